/**
 * One P2PNode in whatever network namespace this process was started in, driven over stdin/stdout:
 * each request line `{ id, cmd, ...args }` gets exactly one reply line `{ id, result }` or
 * `{ id, error: { code, message } }`. Requests run concurrently. Exits when stdin closes, so an agent
 * never outlives whoever drives it. `P2P_AGENT_LOG=debug` logs the node (pino) to stderr.
 *
 * Started by {@link NatAgent.spawn} (agentClient.ts) as `ip netns exec p2pl-ha node --import tsx test/nat/agent.ts`.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createInterface } from 'node:readline';
import pino from 'pino';
import {
  createNode,
  type DhtInfo,
  type IceServer,
  type NodeDhtOptions,
  type NodeOptions,
  type NodeTimeouts,
  type P2PNode,
  type PeerEvent,
  type PeerInfo,
} from '../../src/index.js';

export interface StartRequest {
  signalingUrl: string;
  iceServers?: IceServer[];
  timeouts?: Partial<NodeTimeouts>;
  /** Keep only ICE candidates of these types (e.g. `['relay']` to force TURN); all by default. */
  candidateTypes?: string[];
  /** Re-establish lost connections (`createNode`'s option); off by default. */
  reconnect?: NodeOptions['reconnect'];
  /** Run the DHT (`createNode`'s option); `start` then also waits for it to join. Off by default. */
  dht?: boolean | NodeDhtOptions;
}

/** What arrived from one peer. Binary messages are hashed in arrival order. */
export interface ReceivedSummary {
  messages: number;
  texts: string[];
  binaryMessages: number;
  binaryBytes: number;
  /** SHA-256 (hex) of all binary messages concatenated. */
  sha256: string;
}

export interface BulkResult {
  bytes: number;
  sha256: string;
  ms: number;
}

export interface AgentEvent {
  at: number;
  event: PeerEvent | { type: 'signaling'; from: string; to: string };
}

/** Request name → [arguments, result]. */
export interface AgentApi {
  start: [StartRequest, { nodeId: string }];
  connect: [{ peerId: string }, { ok: true; ms: number }];
  peers: [Record<string, never>, PeerInfo[]];
  send: [{ peerId: string; text?: string; bytes?: string /* base64 */ }, { ok: true }];
  sendBulk: [{ peerId: string; totalBytes: number; chunkBytes?: number }, BulkResult];
  received: [Record<string, never>, Record<string, ReceivedSummary>];
  waitReceived: [{ from: string; binaryBytes: number; timeoutMs: number }, ReceivedSummary];
  events: [Record<string, never>, AgentEvent[]];
  disconnect: [{ peerId: string }, { ok: true }];
  join: [{ topic: string }, { ok: true }];
  lookup: [{ topic: string }, { ids: string[]; ms: number }];
  /** Undefined (absent from the reply) when the node runs no DHT. */
  dhtInfo: [Record<string, never>, DhtInfo | undefined];
  stop: [Record<string, never>, { ok: true }];
}
export type AgentCommand = keyof AgentApi;

const KEEP_TEXTS = 100;

interface Inbox {
  summary: Omit<ReceivedSummary, 'sha256'>;
  hash: Hash;
}

let node: P2PNode | undefined;
const inboxes = new Map<string, Inbox>();
const events: AgentEvent[] = [];
const arrivals = new Set<() => void>();

function started(): P2PNode {
  if (!node) throw Object.assign(new Error('send start first'), { code: 'ERR_AGENT' });
  return node;
}

function summary(inbox: Inbox | undefined): ReceivedSummary {
  if (!inbox) return { messages: 0, texts: [], binaryMessages: 0, binaryBytes: 0, sha256: createHash('sha256').digest('hex') };
  return { ...inbox.summary, texts: [...inbox.summary.texts], sha256: inbox.hash.copy().digest('hex') };
}

const handlers: { [K in AgentCommand]: (args: AgentApi[K][0]) => Promise<AgentApi[K][1]> } = {
  async start({ signalingUrl, iceServers, timeouts, candidateTypes, reconnect, dht }) {
    if (node) throw Object.assign(new Error('already started'), { code: 'ERR_AGENT' });
    const level = process.env.P2P_AGENT_LOG;
    node = createNode({
      signalingUrl,
      iceServers,
      timeouts,
      reconnect,
      dht,
      candidateFilter: candidateTypes ? (c) => candidateTypes.includes(c.type) : undefined,
      logger: level ? pino({ level }, pino.destination(2)) : undefined,
    });
    node.data$.subscribe(({ from, data }) => {
      let inbox = inboxes.get(from);
      if (!inbox) inboxes.set(from, (inbox = { summary: { messages: 0, texts: [], binaryMessages: 0, binaryBytes: 0 }, hash: createHash('sha256') }));
      inbox.summary.messages++;
      if (typeof data === 'string') {
        inbox.summary.texts.push(data);
        if (inbox.summary.texts.length > KEEP_TEXTS) inbox.summary.texts.shift();
      } else {
        inbox.summary.binaryMessages++;
        inbox.summary.binaryBytes += data.byteLength;
        inbox.hash.update(data);
      }
      for (const wake of [...arrivals]) wake();
    });
    node.peerEvents$.subscribe((event) => events.push({ at: Date.now(), event }));
    node.transitions$.subscribe((t) => {
      if (t.actor === 'signaling') events.push({ at: Date.now(), event: { type: 'signaling', from: t.from, to: t.to } });
    });
    await node.start();
    return { nodeId: node.nodeId };
  },

  async connect({ peerId }) {
    const t0 = performance.now();
    await started().connectToNode(peerId);
    return { ok: true, ms: Math.round(performance.now() - t0) };
  },

  async peers() {
    return started().peers();
  },

  async send({ peerId, text, bytes }) {
    await started().send(peerId, text ?? new Uint8Array(Buffer.from(bytes ?? '', 'base64')));
    return { ok: true };
  },

  async sendBulk({ peerId, totalBytes, chunkBytes = 64 * 1024 }) {
    const n = started();
    const hash = createHash('sha256');
    const t0 = performance.now();
    for (let sent = 0; sent < totalBytes; sent += chunkBytes) {
      const chunk = new Uint8Array(randomBytes(Math.min(chunkBytes, totalBytes - sent)));
      hash.update(chunk);
      await n.send(peerId, chunk);
    }
    return { bytes: totalBytes, sha256: hash.digest('hex'), ms: Math.round(performance.now() - t0) };
  },

  async received() {
    return Object.fromEntries([...inboxes].map(([id, inbox]) => [id, summary(inbox)]));
  },

  async waitReceived({ from, binaryBytes, timeoutMs }) {
    const deadline = Date.now() + timeoutMs;
    while ((inboxes.get(from)?.summary.binaryBytes ?? 0) < binaryBytes) {
      const left = deadline - Date.now();
      if (left <= 0) {
        const got = inboxes.get(from)?.summary.binaryBytes ?? 0;
        throw Object.assign(new Error(`${got} of ${binaryBytes} bytes after ${timeoutMs} ms`), { code: 'ERR_AGENT_TIMEOUT' });
      }
      await new Promise<void>((resolve) => {
        const wake = (): void => (clearTimeout(timer), arrivals.delete(wake), resolve());
        const timer = setTimeout(wake, left);
        arrivals.add(wake);
      });
    }
    return summary(inboxes.get(from));
  },

  async events() {
    return events;
  },

  async disconnect({ peerId }) {
    await started().disconnect(peerId);
    return { ok: true };
  },

  async join({ topic }) {
    await started().join(topic);
    return { ok: true };
  },

  async lookup({ topic }) {
    const t0 = performance.now();
    const ids = await started().lookup(topic);
    return { ids, ms: Math.round(performance.now() - t0) };
  },

  async dhtInfo() {
    return started().dhtInfo();
  },

  async stop() {
    await node?.stop();
    return { ok: true };
  },
};

function reply(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function handle(line: string): Promise<void> {
  let id: unknown;
  try {
    const { id: requestId, cmd, ...args } = JSON.parse(line) as { id: unknown; cmd: AgentCommand };
    id = requestId;
    const handler = handlers[cmd] as ((args: unknown) => Promise<unknown>) | undefined;
    if (!handler) throw Object.assign(new Error(`unknown command ${JSON.stringify(cmd)}`), { code: 'ERR_AGENT' });
    reply({ id, result: await handler(args) });
    if (cmd === 'stop') process.exit(0);
  } catch (err) {
    const { code = 'ERR_AGENT', message = String(err) } = err as { code?: string; message?: string };
    reply({ id, error: { code, message } });
  }
}

createInterface({ input: process.stdin }).on('line', (line) => void handle(line)).on('close', () => {
  // The driver is gone: leave without ceremony (wrtc teardown can hang; the lab kills us anyway).
  process.exit(0);
});
reply({ ready: true });
