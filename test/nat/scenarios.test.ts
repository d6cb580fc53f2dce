/**
 * NAT traversal, proven: each scenario builds its own lab (namespaces, NAT routers, coturn, the
 * project's signaling server) and runs real nodes in separate LAN namespaces. Root only: without the
 * lab, requireLab() fails the file on purpose (never a silent skip).
 *
 * Every scenario prints one `nat scenario:` line with its route and connect times; the README's
 * "Across NATs" table is read off them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PeerInfo } from '../../src/index.js';
import { NatAgent, type StartRequest } from './agentClient.js';
import { ADDR, NatLab, NS, ROOT, requireLab, type NatLabOptions, type Namespace, type SignalingInfo, type TurnInfo } from './lab.js';

/** libwebrtc never reports failure on silently dropped packets; the node's own ICE timeout decides. */
const ICE_TIMEOUT_MS = 6_000;
const CONNECTS = 5;

interface Setup {
  lab: NatLab;
  signaling: SignalingInfo;
  turn: TurnInfo;
  a: NatAgent;
  b: NatAgent;
}

let current: NatLab | undefined;
afterEach(async () => {
  await current?.stop();
  current = undefined;
});

beforeAll(() => requireLab());

/**
 * A lab with `options`, coturn, and a signaling server (handing out TURN credentials when `relay`),
 * or with `broker`, a Mosquitto in its place: no server of ours at all.
 */
async function servers(options: NatLabOptions, relay = false, broker = false): Promise<Omit<Setup, 'a' | 'b'>> {
  const lab = await NatLab.start(options);
  current = lab;
  const turn = await lab.startTurn();
  const signaling = broker ? await lab.startBroker() : await lab.startSignaling(relay ? turn : undefined);
  return { lab, signaling, turn };
}

/** {@link servers}, and a started node in each of `hosts`; nodes know only the STUN address unless the server gives them TURN. */
async function setUp(options: NatLabOptions, { relay = false, broker = false, hosts = [NS.hostA, NS.hostB] as [Namespace, Namespace] } = {}): Promise<Setup> {
  const { lab, signaling, turn } = await servers(options, relay, broker);
  const [a, b] = await Promise.all(hosts.map((ns) => NatAgent.spawn(lab, ns)));
  const request: StartRequest = { signalingUrl: signaling.url, iceServers: [{ urls: turn.stunUrls }], timeouts: { ice: ICE_TIMEOUT_MS } };
  await Promise.all([a!.start(request), b!.start(request)]);
  return { lab, signaling, turn, a: a!, b: b! };
}

/** Connects `a` to `b` `count` times (closing in between); the connect times, in ms. */
async function connectTimes(a: NatAgent, b: NatAgent, count = CONNECTS): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    if (i > 0) {
      await a.disconnect(b.nodeId);
      await waitFor(async () => (await b.peers()).length === 0 && (await a.peers()).length === 0);
    }
    const outcome = await a.connect(b.nodeId);
    if (!outcome.ok) throw new Error(`connect ${i + 1}/${count} failed: ${outcome.error.code}: ${outcome.error.message}`);
    times.push(outcome.ms);
  }
  return times;
}

async function waitFor(condition: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The connected peer `agent` reports, once both ends have verified the connection. */
async function connectedPeer(agent: NatAgent, peerId: string): Promise<PeerInfo> {
  await waitFor(async () => (await agent.peers()).some((p) => p.id === peerId && p.state === 'connected'));
  return (await agent.peers()).find((p) => p.id === peerId)!;
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

function report(scenario: string, facts: Record<string, unknown>): void {
  console.log(`nat scenario: ${JSON.stringify({ scenario, ...facts })}`);
}

const DIRECT = ['host', 'srflx', 'prflx'];
const at = (address: string) => new RegExp(`^${address.replaceAll('.', '\\.')}:\\d+$`);

describe('across NATs, in a lab of network namespaces', () => {
  /** Scenarios 1 and 13: five connects between two cone-NATed LANs, each direct between the routers. */
  async function coneToCone(scenario: string, broker: boolean): Promise<void> {
    const { a, b } = await setUp({ natA: 'cone', natB: 'cone' }, { broker });
    const times = await connectTimes(a, b);
    const [fromA, fromB] = [await connectedPeer(a, b.nodeId), await connectedPeer(b, a.nodeId)];
    expect(DIRECT).toContain(fromA.route);
    expect(DIRECT).toContain(fromB.route);
    // Each side talks to the other's router, never through the relay or the other's private address.
    expect(fromA.remoteAddress ?? `${ADDR.routerBWan}:0`).toMatch(at(ADDR.routerBWan));
    expect(fromA.localAddress).toMatch(at(ADDR.routerAWan));
    report(scenario, { routes: [fromA.route, fromB.route], connectMs: times, medianMs: median(times) });
  }

  it('1. port-restricted cone NAT on both sides: direct, through server-reflexive addresses', () => coneToCone('cone ↔ cone', false));

  it('13. the same two LANs meet through an MQTT broker (Mosquitto) in the internet, no server of ours: direct', () =>
    coneToCone('cone ↔ cone through Mosquitto', true));

  it('2. one side public, the other behind NAT: direct', async () => {
    const { a, b } = await setUp({ natA: 'cone', natB: 'cone' }, { hosts: [NS.hostA, NS.pub] });
    const times = await connectTimes(a, b);
    const [fromA, fromPub] = [await connectedPeer(a, b.nodeId), await connectedPeer(b, a.nodeId)];
    expect(DIRECT).toContain(fromA.route);
    expect(DIRECT).toContain(fromPub.route);
    expect(fromA.remoteAddress).toMatch(at(ADDR.pub));
    report('cone ↔ public', { routes: [fromA.route, fromPub.route], connectMs: times, medianMs: median(times) });
  });

  it('3a. symmetric NAT on both sides, TURN from the signaling server: connected through the relay', async () => {
    const { a, b } = await setUp({ natA: 'symmetric', natB: 'symmetric' }, { relay: true });
    const times = await connectTimes(a, b);
    const routes = [(await connectedPeer(a, b.nodeId)).route, (await connectedPeer(b, a.nodeId)).route];
    expect(routes).toContain('relay');
    report('symmetric ↔ symmetric, TURN', { routes, connectMs: times, medianMs: median(times) });
  });

  it('3b. symmetric NAT on both sides without TURN: ice-failed within the timeout, saying TURN is needed', async () => {
    const { a, b } = await setUp({ natA: 'symmetric', natB: 'symmetric' });
    const t0 = Date.now();
    const outcome = await a.connect(b.nodeId);
    const ms = Date.now() - t0;
    // Whichever side's ICE timer fires first tells the other, which reports the same failure.
    expect(outcome).toMatchObject({ ok: false, error: { code: 'ERR_ICE_FAILED' } });
    const message = outcome.ok ? '' : outcome.error.message;
    expect(message).toMatch(/srflx [1-9]/); // STUN worked on both sides: it is the NAT type, not the setup
    expect(message).toContain('a TURN server (--turn) is needed');
    // The ICE timer starts after the answer; the whole attempt ends within it plus the SDP exchange.
    expect(ms).toBeGreaterThanOrEqual(ICE_TIMEOUT_MS);
    expect(ms).toBeLessThan(ICE_TIMEOUT_MS + 3_000);
    report('symmetric ↔ symmetric, no TURN', { outcome: 'ERR_ICE_FAILED', failedAfterMs: ms, detail: message });
  });

  it('4. after connecting, the signaling server and coturn die: data keeps flowing both ways for 10 s', async () => {
    const { lab, signaling, turn, a, b } = await setUp({ natA: 'cone', natB: 'cone' });
    await connectTimes(a, b, 1);
    await connectedPeer(b, a.nodeId);
    await lab.kill(signaling);
    await lab.kill(turn);
    const sent = 40;
    for (let i = 0; i < sent; i++) {
      await Promise.all([a.send(b.nodeId, `a${i}`), b.send(a.nodeId, `b${i}`)]);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await waitFor(async () => (await b.received())[a.nodeId]?.messages === sent && (await a.received())[b.nodeId]?.messages === sent);
    expect((await b.received())[a.nodeId]!.texts).toEqual(Array.from({ length: sent }, (_, i) => `a${i}`));
    expect((await a.received())[b.nodeId]!.texts).toEqual(Array.from({ length: sent }, (_, i) => `b${i}`));
    expect((await a.peers())[0]).toMatchObject({ id: b.nodeId, state: 'connected' });
    report('cone ↔ cone, servers killed', { messagesEachWay: sent, seconds: (sent * 250) / 1000 });
  });

  it('5. 5% loss and 100 ms extra delay on router A: connects, and 10 MB arrive intact', async () => {
    const { a, b } = await setUp({ natA: 'cone', natB: 'cone', impair: { router: 'a', lossPercent: 5, delayMs: 100 } });
    const times = await connectTimes(a, b, 3);
    // A → B crosses the impaired direction: every data packet risks the loss and waits the delay.
    // SCTP's congestion control makes that slow (~65 KB/s measured), hence the long bounds.
    const bytes = 10 * 1024 * 1024;
    const t0 = Date.now();
    const [sent, got] = await Promise.all([a.sendBulk(b.nodeId, bytes, { timeoutMs: 400_000 }), b.waitReceived(a.nodeId, bytes, 400_000)]);
    const transferMs = Date.now() - t0;
    expect(got.sha256).toBe(sent.sha256);
    expect(got.binaryBytes).toBe(bytes);
    const route = (await connectedPeer(a, b.nodeId)).route;
    report('cone ↔ cone, 5% loss + 100 ms', { route, connectMs: times, medianMs: median(times), transferMs, kBps: Math.round(bytes / 1024 / (transferMs / 1000)) });
  }, 480_000);

  it('7. a 30 s blackhole on router A: both sides find the peer lost in about 4 s, and reconnect once the path is back', async () => {
    const { lab, signaling, turn } = await servers({ natA: 'cone', natB: 'cone' });
    const [a, b] = await Promise.all([NatAgent.spawn(lab, NS.hostA), NatAgent.spawn(lab, NS.hostB)]);
    const request: StartRequest = {
      signalingUrl: signaling.url,
      iceServers: [{ urls: turn.stunUrls }],
      timeouts: { ice: ICE_TIMEOUT_MS },
      reconnect: { budgetMs: 90_000 },
    };
    await Promise.all([a!.start(request), b!.start(request)]);
    await connectTimes(a!, b!, 1);
    await connectedPeer(b!, a!.nodeId);
    // Every packet through router A, both ways, signaling included, is dropped for 30 s.
    const drop = ['FORWARD', '1', '-j', 'DROP'];
    await lab.exec(NS.routerA, 'iptables', ['-I', ...drop]);
    const blackholedAt = Date.now();
    const since = async (agent: NatAgent) => (await agent.events()).filter((e) => e.at >= blackholedAt && e.event.type !== 'signaling');
    const lostAt = async (agent: NatAgent) => {
      await waitFor(async () => (await since(agent)).some((e) => e.event.type === 'closed'), 20_000);
      const lost = (await since(agent)).find((e) => e.event.type === 'closed')!;
      expect(lost.event).toMatchObject({ type: 'closed', reason: 'peer-lost', wasConnected: true });
      return lost.at - blackholedAt;
    };
    const detectedMs = await Promise.all([lostAt(a!), lostAt(b!)]);
    await new Promise((resolve) => setTimeout(resolve, 30_000 - (Date.now() - blackholedAt)));
    await lab.exec(NS.routerA, 'iptables', ['-D', 'FORWARD', '-j', 'DROP']);
    const restoredAt = Date.now();
    await connectedPeer(a!, b!.nodeId);
    await connectedPeer(b!, a!.nodeId);
    const recoveredMs = Date.now() - restoredAt;
    await a!.send(b!.nodeId, 'after the blackhole');
    await waitFor(async () => (await b!.received())[a!.nodeId]?.texts.includes('after the blackhole') ?? false);
    const events = (await since(a!)).map((e) => e.event.type);
    // At half the timeout an ICE restart is tried; with every packet dropped it cannot succeed.
    expect(events.slice(0, 2)).toEqual(['recovering', 'closed']);
    expect(events).toContain('reconnecting');
    expect(events.at(-1)).toBe('connected');
    report('cone ↔ cone, 30 s blackhole on router A', { detectedMs, recoveredMs, attempts: events.filter((t) => t === 'reconnecting').length });
  }, 180_000);

  it('8. router A’s NAT mapping changes under a live connection: ICE restarts, and nothing is lost or reordered', async () => {
    const { lab, a, b } = await setUp({ natA: 'cone', natB: 'cone' });
    await connectTimes(a, b, 1);
    const before = await connectedPeer(b, a.nodeId);
    const sent = 60;
    const sending = (async () => {
      for (let i = 0; i < sent; i++) {
        await Promise.all([a.send(b.nodeId, `a${i}`), b.send(a.nodeId, `b${i}`)]);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // UDP from host A leaves through new public ports from now on, and the old mappings are forgotten:
    // packets to them die at router A, and A's packets reach B from an address B never saw.
    await lab.exec(NS.routerA, 'iptables', ['-t', 'nat', '-I', 'POSTROUTING', '1', '-o', 'wan', '-p', 'udp', '-j', 'MASQUERADE', '--to-ports', '40000-40999']);
    await lab.exec(NS.routerA, 'conntrack', ['-F']);
    const changedAt = Date.now();
    await sending;
    const since = async (agent: NatAgent) => (await agent.events()).filter((e) => e.at >= changedAt && e.event.type !== 'signaling');
    await waitFor(async () => (await since(a)).some((e) => e.event.type === 'connected'), 20_000);
    const recoveredMs = (await since(a)).find((e) => e.event.type === 'connected')!.at - changedAt;
    await waitFor(async () => (await b.received())[a.nodeId]?.messages === sent && (await a.received())[b.nodeId]?.messages === sent, 20_000);
    expect((await b.received())[a.nodeId]!.texts).toEqual(Array.from({ length: sent }, (_, i) => `a${i}`));
    expect((await a.received())[b.nodeId]!.texts).toEqual(Array.from({ length: sent }, (_, i) => `b${i}`));
    expect((await since(a)).map((e) => e.event.type)).toEqual(['recovering', 'connected']);
    const after = await connectedPeer(b, a.nodeId);
    const port = (address?: string) => Number(address?.split(':')[1]);
    expect(port(after.remoteAddress)).toBeGreaterThanOrEqual(40000);
    expect(port(after.remoteAddress)).toBeLessThanOrEqual(40999);
    report('cone ↔ cone, router A’s mapping changes', {
      route: after.route,
      before: before.remoteAddress,
      after: after.remoteAddress,
      recoveredMs,
      messagesEachWay: sent,
    });
  }, 120_000);

  it('9. the signaling server dies in the middle of a handshake: the attempt fails with a code, and a retry once it is back connects', async () => {
    const { lab, signaling, a, b } = await setUp({ natA: 'cone', natB: 'cone' });
    // B is frozen, so A's offer waits unanswered at B's socket when the server dies.
    b.process.signal('SIGSTOP');
    const attempt = a.connect(b.nodeId);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await a.peers()).find((p) => p.id === b.nodeId)?.state).toBe('offering');
    await lab.kill(signaling);
    const killedAt = Date.now();
    const outcome = await attempt;
    const failedMs = Date.now() - killedAt;
    b.process.signal('SIGCONT');
    expect(outcome.ok).toBe(false);
    const { code, message } = (outcome as Extract<typeof outcome, { ok: false }>).error;
    await lab.startSignaling();
    const registered = async (agent: NatAgent) =>
      (await agent.events()).some((e) => e.at > killedAt && e.event.type === 'signaling' && e.event.to.endsWith('registered'));
    await waitFor(async () => (await registered(a)) && (await registered(b)), 30_000);
    const retry = await a.connect(b.nodeId);
    expect(retry.ok).toBe(true);
    expect(code).toBe('ERR_SIGNALING_LOST');
    report('cone ↔ cone, signaling server killed mid-handshake', { code, message, failedMs, retryMs: retry.ok ? retry.ms : undefined });
  }, 120_000);

  it('10. UDP blocked on side A: connected through TURN over TCP', async () => {
    const { lab, signaling, turn } = await servers({ natA: 'cone', natB: 'cone' });
    await lab.exec(NS.routerA, 'iptables', ['-I', 'FORWARD', '-p', 'udp', '-j', 'DROP']);
    const [a, b] = await Promise.all([NatAgent.spawn(lab, NS.hostA), NatAgent.spawn(lab, NS.hostB)]);
    const tcpRelay = [{ urls: turn.urls.map((url) => url.replace('transport=udp', 'transport=tcp')), username: turn.username, credential: turn.credential }];
    await a!.start({ signalingUrl: signaling.url, iceServers: tcpRelay, timeouts: { ice: ICE_TIMEOUT_MS } });
    await b!.start({ signalingUrl: signaling.url, iceServers: [{ urls: turn.stunUrls }], timeouts: { ice: ICE_TIMEOUT_MS } });
    const times = await connectTimes(a!, b!, 3);
    const [peerA, peerB] = [await connectedPeer(a!, b!.nodeId), await connectedPeer(b!, a!.nodeId)];
    expect(peerA.route).toBe('relay');
    expect(peerB.remoteAddress).toMatch(at(ADDR.server));
    await a!.send(b!.nodeId, 'through the relay, over TCP');
    await b!.send(a!.nodeId, 'and back');
    await waitFor(async () => (await b!.received())[a!.nodeId]?.messages === 1 && (await a!.received())[b!.nodeId]?.messages === 1);
    report('cone (UDP blocked) ↔ cone, TURN over TCP', { route: [peerA.route, peerB.route], connectMs: times, medianMs: median(times) });
  }, 120_000);

  it('11. a blackhole longer than the reconnect budget: peer-lost within the bound, then the retries give up', async () => {
    const { lab, signaling, turn } = await servers({ natA: 'cone', natB: 'cone' });
    const [a, b] = await Promise.all([NatAgent.spawn(lab, NS.hostA), NatAgent.spawn(lab, NS.hostB)]);
    const budgetMs = 8_000;
    const request: StartRequest = { signalingUrl: signaling.url, iceServers: [{ urls: turn.stunUrls }], timeouts: { ice: ICE_TIMEOUT_MS }, reconnect: { budgetMs } };
    await Promise.all([a!.start(request), b!.start(request)]);
    await connectTimes(a!, b!, 1);
    await connectedPeer(b!, a!.nodeId);
    await lab.exec(NS.routerA, 'iptables', ['-I', 'FORWARD', '1', '-j', 'DROP']);
    const blackholedAt = Date.now();
    const since = async () => (await a!.events()).filter((e) => e.at >= blackholedAt && e.event.type !== 'signaling');
    await waitFor(async () => (await since()).some((e) => e.event.type === 'closed'), 20_000);
    const lost = (await since()).find((e) => e.event.type === 'closed')!;
    expect(lost.event).toMatchObject({ type: 'closed', reason: 'peer-lost', wasConnected: true });
    // Past the budget (counted from the loss) and the last attempt's own timeouts, nothing is pending any more.
    await waitFor(async () => (await a!.peers()).length === 0, budgetMs + 30_000);
    const quietFrom = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const events = await since();
    expect(events.filter((e) => e.at >= quietFrom)).toEqual([]);
    const attempts = events.filter((e) => e.event.type === 'reconnecting');
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.at(-1)!.at - lost.at).toBeLessThanOrEqual(budgetMs);
    report('cone ↔ cone, blackhole past an 8 s reconnect budget', {
      detectedMs: lost.at - blackholedAt,
      attempts: attempts.length,
      gaveUpAfterMs: events.at(-1)!.at - lost.at,
    });
  }, 120_000);

  it('12. three LANs: nodes join the DHT through the server, the server dies, and nodes in different LANs find each other by topic and connect directly through overlay signaling', async () => {
    // coturn stays: it is the STUN server (a public one, in real life) that gives each node its srflx
    // candidate. Only the signaling server dies. No node runs on the public host: every overlay hop,
    // B included, is behind a NAT, as in a network of home machines.
    const { lab, signaling, turn } = await servers({ natA: 'cone', natB: 'cone', lanC: 'cone' });
    const agents = await Promise.all([NS.hostA, NS.hostB, NS.hostC].map((ns) => NatAgent.spawn(lab, ns)));
    const [a, b, c] = agents as [NatAgent, NatAgent, NatAgent];
    // The server introduces every DHT node to every later one, and a DHT node links to all it is
    // introduced to; no DHT setting stops that deterministically (a link stays while either end's
    // table holds the other, and which contact a small bucket holds depends on the random ids). So A
    // and C are kept apart while the server lives: router A drops UDP between them, and whatever
    // attempt the DHT makes fails ICE. Nothing else is blocked (signaling and STUN go to 203.0.113.10).
    const apart = (action: '-I' | '-D') =>
      Promise.all(['-s', '-d'].map((side) => lab.exec(NS.routerA, 'iptables', [action, 'FORWARD', ...(action === '-I' ? ['1'] : []), '-p', 'udp', side, ADDR.routerCWan, '-j', 'DROP'])));
    await apart('-I');
    // Three nodes hold at most two contacts each: with the default minContacts (4) they would stay `degraded`.
    const request: StartRequest = { signalingUrl: signaling.url, iceServers: [{ urls: turn.stunUrls }], timeouts: { ice: ICE_TIMEOUT_MS }, dht: { minContacts: 1 } };
    // One at a time, as a network grows: each node joins through those the server introduces.
    for (const agent of agents) await agent.start(request);
    await waitFor(async () => (await Promise.all(agents.map((x) => x.dhtInfo()))).every((info) => info?.state === 'ready'), 30_000);
    await connectedPeer(b, a.nodeId);
    await connectedPeer(b, c.nodeId);
    await lab.kill(signaling);
    const killedAt = Date.now();
    const connectedTo = async (x: NatAgent, y: NatAgent) => (await x.events()).filter((e) => e.event.type === 'connected' && e.event.id === y.nodeId);
    expect(await connectedTo(a, c)).toEqual([]);
    expect(await connectedTo(c, a)).toEqual([]);
    // Every node has noticed the server is gone, so new sessions go through the overlay.
    const offline = async (x: NatAgent) => (await x.events()).some((e) => e.at >= killedAt && e.event.type === 'signaling');
    await waitFor(async () => (await Promise.all(agents.map(offline))).every(Boolean));
    // An attempt the server signaled may still be checking, and would connect once the path is back:
    // the path opens only when no attempt is left, so whatever links A and C now was signaled through the overlay.
    const knows = async (x: NatAgent, y: NatAgent) => (await x.peers()).some((p) => p.id === y.nodeId);
    await waitFor(async () => !(await knows(a, c)) && !(await knows(c, a)), 30_000);
    await apart('-D');

    const topic = 'lab/room';
    await Promise.all(agents.map((x) => x.join(topic)));
    const lookupMs: number[] = [];
    for (const x of agents) {
      const { ids, ms } = await x.lookup(topic);
      expect(ids.sort()).toEqual(agents.filter((y) => y !== x).map((y) => y.nodeId).sort());
      lookupMs.push(ms);
    }
    // Pairs not linked yet connect: A ↔ C, unless the DHT linked them meanwhile (through the overlay
    // too: it learns contacts from the lookups it forwards).
    const overlayConnectMs: Record<string, number> = {};
    for (const [x, y] of [[a, b], [a, c], [b, c]] as const) {
      if ((await x.peers()).some((p) => p.id === y.nodeId && p.state === 'connected')) continue;
      const outcome = await x.connect(y.nodeId);
      if (!outcome.ok) throw new Error(`${x.ns} → ${y.ns}: ${outcome.error.code}: ${outcome.error.message}`);
      overlayConnectMs[`${x.ns} → ${y.ns}`] = outcome.ms;
    }
    // A ↔ C: direct between the two NAT routers, both ways, and data flows both ways.
    const [fromA, fromC] = [await connectedPeer(a, c.nodeId), await connectedPeer(c, a.nodeId)];
    expect((await connectedTo(a, c))[0]!.at).toBeGreaterThan(killedAt);
    expect([fromA.route, fromC.route]).toEqual(['srflx', 'srflx']);
    expect(fromA.remoteAddress).toMatch(at(ADDR.routerCWan));
    expect(fromC.remoteAddress).toMatch(at(ADDR.routerAWan));
    await a.send(c.nodeId, 'from LAN A, signaled through B');
    await c.send(a.nodeId, 'from LAN C, back');
    await waitFor(async () => (await c.received())[a.nodeId]?.texts.includes('from LAN A, signaled through B') === true);
    await waitFor(async () => (await a.received())[c.nodeId]?.texts.includes('from LAN C, back') === true);
    report('three LANs, cone NATs, DHT; signaling server killed, A ↔ C signaled through the overlay', {
      routes: [fromA.route, fromC.route],
      lookupMs,
      overlayConnectMs,
    });
  });

  it('6. the README two-terminal CLI flow, each node in its own LAN', async () => {
    const { lab, signaling, turn } = await servers({ natA: 'cone', natB: 'cone' });
    const dir = mkdtempSync(join(tmpdir(), 'p2pl-cli-'));
    try {
      const cli = (ns: Namespace, name: string, extra: string[]) =>
        lab.spawn(ns, process.execPath, [join(ROOT, 'dist', 'cli.js'), '--signal', signaling.url, '--stun', turn.stunUrls[0]!, '--identity', join(dir, `${name}.pem`), ...extra], {
          XDG_CONFIG_HOME: dir,
        });
      const a = cli(NS.hostA, 'a', []);
      const idA = (await a.line(/^node id: ([0-9a-f]{64})$/, 20_000))[1]!;
      const b = cli(NS.hostB, 'b', ['--connect', idA]);
      const idB = (await b.line(/^node id: ([0-9a-f]{64})$/, 20_000))[1]!;
      // Both sides, as a user would see before typing: B's channel may open a moment after A's, and a line
      // typed before it is answered "! no connected peers" (CI once caught exactly that).
      await a.line(new RegExp(`^\\* connected ${idB.slice(0, 8)} \\((srflx|prflx|host)\\)$`), 20_000);
      await b.line(new RegExp(`^\\* connected ${idA.slice(0, 8)} \\((srflx|prflx|host)\\)$`), 20_000);
      b.write('hello from the other LAN\n');
      await a.line(new RegExp(`^\\[${idB.slice(0, 8)}\\] hello from the other LAN$`));
      a.write('/peers\n');
      await a.line(new RegExp(`^${idB}\\s+connected\\s+(srflx|prflx)\\s+${ADDR.routerAWan.replaceAll('.', '\\.')}:\\d+`));
      a.write('/quit\n');
      b.write('/quit\n');
      expect(await a.exited).toBe(0);
      expect(await b.exited).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
