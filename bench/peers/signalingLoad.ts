/**
 * Signaling clients by the thousand, for bench/signaling.ts: plain WebSockets speaking either our
 * protocol (Socket.IO frames by hand: challenge, signed `register`, `signal` with an ack) or the
 * PeerJS server's (`/peerjs?key&id&token`, `OPEN`, `OFFER`/`ANSWER`/`CANDIDATE` with a `dst`), so
 * both servers are driven by the same lean client and the client's cost is the same for both. A third
 * dialect drives bench/relay.ts, bare Socket.IO forwarding by socket id, to tell Socket.IO's own cost
 * from our protocol's.
 *
 * Clients are paired (2k, 2k + 1); in a cluster, consecutive clients sit on different servers. A
 * session is the signaling of one connection: offer A→B, answer B→A, then two trickled candidates
 * each way, each message sent the moment the previous one arrived, as real peers do. The messages
 * are built before the clock starts (ours signed by the sender's Ed25519 key, like a real node's), and
 * each delivery must equal, character for character, the text the server should forward.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { generateIdentity } from '../../src/wire/identity.js';
import { Envelopes, newSessionId } from '../../src/wire/envelope.js';
import type { Identity } from '../../src/wire/keys.js';
import { nodeTopic, presenceRecord, presenceTopic } from '../../src/wire/mqtt.js';
import { registerMessage, type Envelope } from '../../src/wire/protocol.js';
import { ASK_INTERVAL_MS, AckWindow, askEvery } from '../../src/services/ackWindow.js';
import { paceWithin } from '../../src/services/pacer.js';
import { SIGNALING_CROWD } from '../serverLimits.js';
import { boundChild, now, serve, sleep } from '../child.js';
import { connectPacket, publishPacket, pubackPacket, readPackets, subscribePacket } from './mqttFrames.js';
import type { LoadConfig, LoadRequest, RegisterResult, RelayPlan, RelayResult } from './signalingProtocol.js';

const config = JSON.parse(process.argv[2] ?? '{}') as LoadConfig;
boundChild(`signaling load ${config.first}`, config.deadlineMs);

const STEPS = 6;
const noop = (): void => {};
/** A message not delivered within this long is lost, and its session abandoned. */
const LOST_AFTER_MS = 5000;
const REGISTER_TIMEOUT_MS = 30_000;
const MAX_SAMPLES = 50_000;
/** The PeerJS client's default heartbeat interval (peerjs `pingInterval`). */
const PEERJS_HEARTBEAT_MS = 5000;

// What browsers' libwebrtc sends for one data channel: an offer and answer with their first
// candidates in the SDP (as our node sends them), then trickled candidates.
const sdp = (setup: string, port: number): string =>
  [
    'v=0',
    `o=- 46117314004300${port} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 0.0.0.0',
    `a=candidate:1467250027 1 udp 2122260223 192.0.2.10 ${port} typ host generation 0 network-id 1`,
    `a=candidate:842163049 1 udp 1686052607 203.0.113.7 ${port} typ srflx raddr 192.0.2.10 rport ${port} generation 0 network-id 1`,
    'a=ice-ufrag:Qx3v',
    'a=ice-pwd:5aWYRlqVbHMcJ2eYbz0y3XoP',
    'a=ice-options:trickle',
    'a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08',
    `a=setup:${setup}`,
    'a=mid:0',
    'a=sctp-port:5000',
    'a=max-message-size:262144',
    '',
  ].join('\r\n');
const candidate = (port: number): { type: 'candidate'; candidate: { candidate: string; sdpMLineIndex: number; sdpMid: string } } => ({
  type: 'candidate',
  candidate: { candidate: `candidate:3885250869 1 tcp 1518280447 192.0.2.10 ${port} typ host tcptype passive generation 0 ufrag Qx3v network-id 1`, sdpMLineIndex: 0, sdpMid: '0' },
});
const SCRIPT = [
  { type: 'offer' as const, sdp: sdp('actpass', 50001) },
  { type: 'answer' as const, sdp: sdp('active', 50002) },
  candidate(9),
  candidate(10),
  candidate(11),
  candidate(12),
];
const PEERJS_TYPES = ['OFFER', 'ANSWER', 'CANDIDATE', 'CANDIDATE', 'CANDIDATE', 'CANDIDATE'];

interface Client {
  readonly index: number;
  readonly pair: Pair;
  ws: WebSocket | undefined;
  registered: boolean;
  id: string;
  identity: Identity | undefined;
  nextAck: number;
  /** Ours: which signals ask for an acknowledgement. */
  acks?: AckWindow;
}

interface Pair {
  readonly clients: Client[];
  /** What the sender of each step sends (ours: without the ack id) and what its receiver must get. */
  send: string[];
  expect: string[];
  step: number;
  sentAt: number;
  busy: boolean;
  /** Abandoned after a loss or refusal: never used again, so a late delivery cannot pass for a new one. */
  dead: boolean;
}

/** The six steps of a session between `pair`'s clients as envelopes their keys sign, in order, each with its sender and receiver. */
function sealScript(pair: Pair, each: (from: Client, to: Client, envelope: Envelope) => void): void {
  const [a, b] = pair.clients as [Client, Client];
  const session = newSessionId();
  const sealers = new Map([a, b].map((c) => [c, new Envelopes(c.identity!)]));
  SCRIPT.forEach((data, step) => {
    const [from, to] = step % 2 === 0 ? [a, b] : [b, a];
    each(from, to, sealers.get(from)!.seal(to.id, session, data));
  });
}

/** How one server dialect is spoken: registration, sending one step, and reading frames. */
interface Speaker {
  url(base: string, client: Client): string;
  /** WebSocket subprotocols to ask for. */
  protocols?: string[];
  /** Speaks first once the WebSocket is open (MQTT's CONNECT). */
  open?(client: Client): void;
  /** The frames of a binary protocol as the texts `handshake`, `other` and the deliveries compare (default: the frame as text). */
  read?(client: Client, data: Buffer): string[];
  /** Answers a frame received before registration; true once registered, throws on refusal. */
  handshake(client: Client, text: string): boolean;
  /** Fills `pair.send` and `pair.expect` for the six steps of a session. */
  build(pair: Pair): void;
  send(client: Client, body: string): void;
  /** Answers a frame after registration that is not the expected delivery; a refusal's code if it is one. */
  other(client: Client, text: string): { refused: string } | undefined;
}

/** `client`'s register request (or handshake auth) over `nonce`. */
function proof(client: Client, nonce: string): { publicKey: string; signature: string } {
  const signature = Buffer.from(client.identity!.sign(registerMessage(nonce))).toString('base64url');
  return { publicKey: client.identity!.publicKey, signature };
}

const ours: Speaker = {
  url: (base) => `${base.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`,
  handshake(client, text) {
    const ws = client.ws!;
    // Revision 2: the proof in the CONNECT packet's auth, over the Engine.IO session id.
    if (text.startsWith('0{')) ws.send(`40${JSON.stringify(proof(client, (JSON.parse(text.slice(1)) as { sid: string }).sid))}`);
    else if (text === '2') ws.send('3');
    else if (text.startsWith('42["registered"')) {
      const [, reply] = JSON.parse(text.slice(2)) as [string, { nodeId?: string }];
      if (reply.nodeId !== client.id) throw new Error('wrong node id');
      return true;
    }
    else if (text.startsWith('42["challenge"')) {
      const [, challenge] = JSON.parse(text.slice(2)) as [string, { nonce: string }];
      ws.send(`420${JSON.stringify(['register', proof(client, challenge.nonce)])}`);
    } else if (text.startsWith('430')) {
      const [ack] = JSON.parse(text.slice(3)) as [{ ok: boolean; nodeId?: string; error?: { code: string } }];
      if (!ack.ok || ack.nodeId !== client.id) throw new Error(ack.error?.code ?? 'wrong node id');
      return true;
    } else if (text.startsWith('44') || text.startsWith('42["notice"')) throw new Error(text.slice(0, 120));
    return false;
  },
  build(pair) {
    sealScript(pair, (from, to, envelope) => {
      pair.send.push(JSON.stringify(['signal', { to: to.id, envelope }]));
      // The server forwards exactly the envelope's ten fields, in this order.
      pair.expect.push(`42${JSON.stringify(['signal', { from: from.id, envelope }])}`);
    });
  },
  // As the node's client does towards a revision-2 server (src/services/socketClient.ts): an ack only
  // when its AckWindow says so; refusals of the others come as `signal-failed`.
  send(client, body) {
    client.acks ??= new AckWindow(askEvery(paceWithin(SIGNALING_CROWD.rateLimit).maxInFlight), ASK_INTERVAL_MS);
    const settle = client.acks.add(noop, Date.now());
    // Settled at once: the bench only needs the decision, and the window stays `every` long.
    settle?.();
    client.ws!.send(settle ? `42${client.nextAck++}${body}` : `42${body}`);
  },
  other(client, text) {
    if (text === '2') client.ws!.send('3');
    else if ((text.startsWith('43') && !text.includes('"ok":true')) || text.startsWith('42["signal-failed"')) {
      return { refused: /"code":"([A-Z_]+)"/.exec(text)?.[1] ?? 'unknown' };
    }
    return undefined;
  },
};

const peerjs: Speaker = {
  url: (base, client) => `${base.replace(/^http/, 'ws')}/peerjs?key=peerjs&id=${client.id}&token=${client.id.slice(0, 8)}`,
  handshake(_client, text) {
    if (text === '{"type":"OPEN"}') return true;
    throw new Error(text.slice(0, 120));
  },
  build(pair) {
    const [a, b] = pair.clients as [Client, Client];
    SCRIPT.forEach((payload, step) => {
      const [from, to] = step % 2 === 0 ? [a, b] : [b, a];
      const type = PEERJS_TYPES[step]!;
      pair.send.push(JSON.stringify({ type, dst: to.id, payload }));
      // The server forwards { type, src, dst, payload }, in this order.
      pair.expect.push(JSON.stringify({ type, src: from.id, dst: to.id, payload }));
    });
  },
  send: (client, body) => client.ws!.send(body),
  other: () => undefined,
};

/** bench/relay.ts: Socket.IO forwarding `{ to, data }` by socket id, the least a Socket.IO signaling path can do. */
const bare: Speaker = {
  url: ours.url,
  handshake(client, text) {
    if (text.startsWith('0{')) client.ws!.send('40');
    else if (text.startsWith('40{')) {
      client.id = (JSON.parse(text.slice(2)) as { sid: string }).sid;
      return true;
    }
    return false;
  },
  build(pair) {
    const [a, b] = pair.clients as [Client, Client];
    SCRIPT.forEach((data, step) => {
      const [from, to] = step % 2 === 0 ? [a, b] : [b, a];
      pair.send.push(`42${JSON.stringify(['signal', { to: to.id, data }])}`);
      pair.expect.push(`42${JSON.stringify(['signal', { from: from.id, data }])}`);
    });
  },
  send: (client, body) => client.ws!.send(body),
  other: ours.other,
};

/**
 * An MQTT 5 broker (Mosquitto) over WebSocket, as our node uses one (docs/protocol.md §17): CONNECT,
 * SUBSCRIBE to its own topic, a signed presence record published retained, all at QoS 1; a signal is
 * our envelope published to the receiver's topic, acknowledged by the broker (PUBACK) like our
 * server's ack, and the receiver acknowledges each delivery in turn.
 */
const mqtt: Speaker = {
  url: (base) => `${base.replace(/^http/, 'ws')}/mqtt`,
  protocols: ['mqtt'],
  open: (client) => client.ws!.send(connectPacket(`bench-${client.id.slice(0, 16)}`)),
  read(client, data) {
    return readPackets(data).map((received) => {
      if (received.kind !== 'publish') return `${received.kind.toUpperCase()} ${'reason' in received ? received.reason : received.type}`;
      if (received.id !== undefined) client.ws!.send(pubackPacket(received.id));
      return received.payload;
    });
  },
  handshake(client, text) {
    const ws = client.ws!;
    if (text === 'CONNACK 0') ws.send(subscribePacket(++client.nextAck, nodeTopic(MQTT_PREFIX, client.id)));
    else if (text === 'SUBACK 1') ws.send(publishPacket(++client.nextAck, presenceTopic(MQTT_PREFIX, client.id), presenceRecord(client.identity!, Date.now()), true));
    // 16: "no matching subscribers", which a presence record has until someone looks it up.
    else if (text === 'PUBACK 0' || text === 'PUBACK 16') return true;
    else throw new Error(text.slice(0, 120));
    return false;
  },
  build(pair) {
    sealScript(pair, (_from, to, envelope) => {
      const text = JSON.stringify(envelope);
      pair.send.push(`${nodeTopic(MQTT_PREFIX, to.id)}\n${text}`);
      pair.expect.push(text);
    });
  },
  send(client, body) {
    const split = body.indexOf('\n');
    // Packet ids are 16 bits, never 0.
    client.nextAck = (client.nextAck % 65_535) + 1;
    client.ws!.send(publishPacket(client.nextAck, body.slice(0, split), body.slice(split + 1)));
  },
  // Reason codes from 0x80 on are refusals.
  other: (_client, text) => (text.startsWith('PUBACK ') && Number(text.slice(7)) >= 0x80 ? { refused: text } : undefined),
};

const MQTT_PREFIX = 'bench';

const speaker = { ours, peerjs, bare, mqtt }[config.dialect];
/** Each frame of `data` as text: as it is, or as the speaker reads its binary protocol. */
const texts = (client: Client, data: WebSocket.RawData): string[] => (speaker.read ? speaker.read(client, data as Buffer) : [data.toString()]);

/** Builds the clients and their pairs, keys and ids included, before anything is timed. */
function prepare(): { clients: Client[]; pairs: Pair[] } {
  const clients: Client[] = [];
  const pairs: Pair[] = [];
  for (let i = 0; i < config.count; i += 2) {
    const pair: Pair = { clients: [], send: [], expect: [], step: 0, sentAt: 0, busy: false, dead: false };
    for (const index of [config.first + i, config.first + i + 1]) {
      const identity = config.dialect === 'ours' || config.dialect === 'mqtt' ? generateIdentity() : undefined;
      const client: Client = { index, pair, ws: undefined, registered: false, id: identity?.nodeId ?? randomUUID(), identity, nextAck: 0 };
      pair.clients.push(client);
      clients.push(client);
    }
    pairs.push(pair);
  }
  return { clients, pairs };
}

const { clients, pairs } = prepare();

/** Opens one client's WebSocket and registers it; resolves with the failure reason, or undefined. */
function register(client: Client): Promise<string | undefined> {
  return new Promise((resolve) => {
    const ws = new WebSocket(speaker.url(config.urls[client.index % config.urls.length]!, client), speaker.protocols ?? [], { perMessageDeflate: false });
    client.ws = ws;
    ws.on('open', () => speaker.open?.(client));
    const timer = setTimeout(() => settle('registration timed out'), REGISTER_TIMEOUT_MS);
    const settle = (failure?: string): void => {
      clearTimeout(timer);
      ws.off('message', onHandshake);
      if (failure) ws.terminate();
      else {
        client.registered = true;
        ws.on('message', (data) => {
          for (const text of texts(client, data)) onFrame(client, text);
        });
      }
      resolve(failure);
    };
    const onHandshake = (data: WebSocket.RawData): void => {
      try {
        if (texts(client, data).some((text) => speaker.handshake(client, text))) settle();
      } catch (err) {
        settle((err as Error).message);
      }
    };
    ws.on('message', onHandshake);
    ws.on('error', (err) => settle(err.message));
    ws.on('close', (code) => {
      if (!client.registered) settle(`closed (${code})`);
      else losses.closed++;
    });
  });
}

let registeredUpTo = 0;

/**
 * Registers this process's pairs up to `share` (0–1) of them, from where the last call stopped; the
 * call that reaches all of them readies the pairs' messages and, for PeerJS, starts the heartbeats.
 */
async function registerUpTo(share: number): Promise<RegisterResult> {
  const failures: string[] = [];
  let failed = 0;
  const first = registeredUpTo;
  const end = 2 * Math.round((share * clients.length) / 2);
  let next = first;
  const worker = async (): Promise<void> => {
    while (next < end) {
      const failure = await register(clients[next++]!);
      if (failure === undefined) continue;
      failed++;
      if (failures.length < 5) failures.push(failure);
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.handshakeWindow, end - first) }, worker));
  const doneAt = now();
  registeredUpTo = end;
  if (end === clients.length) {
    for (const pair of pairs) {
      pair.dead ||= pair.clients.some((c) => !c.registered);
      // After registering: a bare Socket.IO client only learns its address (socket id) then.
      if (!pair.dead) speaker.build(pair);
    }
    if (config.dialect === 'peerjs') startHeartbeats();
  }
  return { registered: end - first - failed, failed, failures, doneAt };
}

/** Each PeerJS client sends `HEARTBEAT` every 5 s, as the PeerJS client does; spread over the interval. */
function startHeartbeats(): void {
  const TICKS = 50;
  let tick = 0;
  setInterval(() => {
    for (let i = tick; i < clients.length; i += TICKS) {
      const ws = clients[i]!.ws;
      if (ws?.readyState === WebSocket.OPEN) ws.send('{"type":"HEARTBEAT"}');
    }
    tick = (tick + 1) % TICKS;
  }, PEERJS_HEARTBEAT_MS / TICKS).unref();
}

const losses = { closed: 0 };

/** The running relay phase: what it counts, and what happens when a session ends. */
interface Phase {
  from: number;
  until: number;
  delivered: number;
  total: number;
  unexpected: number;
  lost: number;
  skipped: number;
  refused: Record<string, number>;
  samples: number[];
  seen: number;
  onSessionEnd(pair: Pair): void;
}
let phase: Phase | undefined;

function sendStep(pair: Pair): void {
  pair.sentAt = now();
  speaker.send(pair.clients[pair.step % 2]!, pair.send[pair.step]!);
}

function startSession(pair: Pair): void {
  pair.busy = true;
  pair.step = 0;
  sendStep(pair);
}

function endSession(pair: Pair, dead: boolean): void {
  pair.busy = false;
  pair.dead ||= dead;
  phase?.onSessionEnd(pair);
}

function record(p: Phase, at: number, latency: number): void {
  p.total++;
  if (at < p.from || at > p.until) return;
  p.delivered++;
  // Reservoir sampling keeps the sample uniform over the span without bounding it by count.
  p.seen++;
  if (p.samples.length < MAX_SAMPLES) p.samples.push(latency);
  else {
    const j = Math.floor(Math.random() * p.seen);
    if (j < MAX_SAMPLES) p.samples[j] = latency;
  }
}

function onFrame(client: Client, text: string): void {
  const pair = client.pair;
  const p = phase;
  if (pair.busy && text === pair.expect[pair.step] && pair.clients[(pair.step + 1) % 2] === client) {
    const at = now();
    if (p) record(p, at, at - pair.sentAt);
    pair.step++;
    if (pair.step < STEPS) sendStep(pair);
    else endSession(pair, false);
    return;
  }
  const other = speaker.other(client, text);
  if (other && p) {
    p.refused[other.refused] = (p.refused[other.refused] ?? 0) + 1;
    if (pair.busy) endSession(pair, true);
  } else if (!other && p && text.startsWith({ peerjs: '{"type":"', mqtt: '{"v":', ours: '42["signal"', bare: '42["signal"' }[config.dialect])) p.unexpected++;
}

async function relay(plan: RelayPlan): Promise<RelayResult> {
  const idle = pairs.filter((p) => !p.dead && !p.busy);
  const start = now();
  const p: Phase = {
    from: start + plan.warmupMs,
    until: start + plan.warmupMs + plan.durationMs,
    delivered: 0,
    total: 0,
    unexpected: 0,
    lost: 0,
    skipped: 0,
    refused: {},
    samples: [],
    seen: 0,
    onSessionEnd: (pair) => {
      if (pair.dead) return;
      idle.push(pair);
      // Flat out, the pair that waited longest goes next, so every client takes its turn.
      if (plan.mode === 'flat' && now() < p.until) startSession(idle.shift()!);
    },
  };
  phase = p;
  let cpu: NodeJS.CpuUsage | undefined;
  const cpuTimer = setTimeout(() => (cpu = process.cpuUsage()), plan.warmupMs);
  const reaper = setInterval(() => {
    const t = now();
    for (const pair of pairs) {
      if (pair.busy && t - pair.sentAt > LOST_AFTER_MS) {
        p.lost++;
        endSession(pair, true);
      }
    }
  }, 250);
  if (plan.mode === 'flat') {
    for (const pair of idle.splice(0, plan.window)) startSession(pair);
  } else {
    const sessionsPerMs = plan.messagesPerSecond / STEPS / 1000;
    let started = 0;
    await new Promise<void>((resolve) => {
      const pacer = setInterval(() => {
        const t = now();
        if (t >= p.until) return clearInterval(pacer), resolve();
        for (const due = Math.floor((t - start) * sessionsPerMs); started < due; started++) {
          const pair = idle.shift();
          if (pair) startSession(pair);
          else if (t >= p.from) p.skipped++;
        }
      }, 2);
    });
  }
  while (now() < p.until) await sleep(Math.max(1, p.until - now()));
  const used = process.cpuUsage(cpu);
  clearTimeout(cpuTimer);
  // Let sessions in flight finish (uncounted), so the next phase starts from quiet pairs.
  for (let waited = 0; pairs.some((pair) => pair.busy) && waited < LOST_AFTER_MS + 500; waited += 50) {
    await sleep(50);
  }
  clearInterval(reaper);
  phase = undefined;
  return {
    delivered: p.delivered,
    total: p.total,
    measuredMs: plan.durationMs,
    latencyMs: p.samples,
    lost: p.lost,
    unexpected: p.unexpected,
    refused: p.refused,
    skipped: p.skipped,
    cpuMs: (used.user + used.system) / 1000,
  };
}

serve<LoadRequest>(async (req) => {
  switch (req.cmd) {
    case 'register':
      return registerUpTo(req.share);
    case 'relay':
      if (losses.closed) throw new Error(`${losses.closed} registered connections closed unasked`);
      return relay(req);
    default:
      throw new Error(`unknown command ${req.cmd}`);
  }
});
process.send!({ ready: true, clients: clients.length });
