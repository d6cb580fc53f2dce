/**
 * Section 7, the DHT: 50 real nodes in 5 processes (bench/dhtHost.ts, 10 nodes each) join through
 * one signaling server started here, with small tables (`k` 3, 10 links) so that most lookups take
 * several hops as they would in a large network.
 *
 * 1. **Topic lookups:** 5 topics, each joined by 3 nodes; every node looks up every topic, the
 *    processes side by side. Latency from the call to the answer, and requests handled per lookup
 *    (the requests every node handled over the phase, divided by the lookups; background upkeep
 *    included).
 * 2. **A lookup over a busy connection:** a probe node (its own process, one lookup path: `alpha`
 *    1) holds a connection to node R and looks up a topic whose closest node is R, so every lookup
 *    crosses that connection. Sequential lookups idle, then while the probe sends R one 64 MiB
 *    message on the same connection (the target: p99 at most 2× idle). The message is checked at
 *    R by its SHA-256. Then, as a control, while a second node in the probe's process sends one to
 *    a second node in R's: the same processes as busy, on another connection, so what the machine's
 *    load costs the lookups shows apart from what sharing the connection costs them.
 *
 * Standalone: tsx bench/dht.ts [--smoke]
 */
import { fileURLToPath } from 'node:url';
import { createSignalingServer, topicKey } from '../src/index.js';
import { keyBytes, compareDistance } from '../src/dht/keyspace.js';
import { sleep } from './child.js';
import type { DhtHostConfig, DhtHostCounters, Timed } from './dhtHost.js';
import { ask, startDhtHost, type DhtHost, type HostedNode } from './dhtHosts.js';
import { cpuMs, udpDrops } from './procStats.js';
import { LOOPBACK_CROWD } from './serverLimits.js';
import { percentile, round, rows } from './stats.js';
import type { BenchOptions, BenchRow, BenchSection } from './types.js';

const SELF = fileURLToPath(import.meta.url);
const DHT = { k: 3, maxConnections: 10, minContacts: 3 };
const TOPICS = 5;
const PER_TOPIC = 3;

interface Plan {
  hosts: number;
  perHost: number;
  idleLookups: number;
  transferBytes: number;
  deadlineMs: number;
}

const plan = (smoke: boolean): Plan =>
  smoke
    ? { hosts: 2, perHost: 5, idleLookups: 20, transferBytes: 8 * 1024 * 1024, deadlineMs: 60_000 }
    : { hosts: 5, perHost: 10, idleLookups: 200, transferBytes: 64 * 1024 * 1024, deadlineMs: 240_000 };


async function counters(hosts: DhtHost[]): Promise<number> {
  const all = await Promise.all(hosts.map((h) => h.request<DhtHostCounters>({ cmd: 'counters' }, 10_000)));
  return all.reduce((sum, c) => sum + c.requests, 0);
}

/** A topic name whose key is closer to `id` than to any other of `ids`. */
function topicClosestTo(id: string, ids: string[]): string {
  for (let i = 0; ; i++) {
    const topic = `bench/busy-${i}`;
    const key = keyBytes(topicKey(topic));
    if (ids.every((other) => other === id || compareDistance(keyBytes(id), keyBytes(other), key) < 0)) return topic;
  }
}

export async function run(options: BenchOptions): Promise<BenchSection[]> {
  const p = plan(options.smoke);
  const started = performance.now();
  const server = await createSignalingServer({ port: 0, ...LOOPBACK_CROWD });
  const hosts: DhtHost[] = [];
  try {
    const config: DhtHostConfig = { signalingUrl: server.url, nodes: p.perHost, dht: DHT, deadlineMs: p.deadlineMs };
    for (let h = 0; h < p.hosts; h++) hosts.push(startDhtHost(`dht host ${h}`, config));
    const ready = await Promise.all(hosts.map((host) => host.ready));
    const nodes: HostedNode[] = hosts.flatMap((host, h) => ready[h]!.ids.map((id, index) => ({ host, index, id })));
    const probeHost: DhtHost = startDhtHost('dht probe', { ...config, nodes: 2, dht: { ...DHT, alpha: 1 } });
    hosts.push(probeHost);
    const probeIds = (await probeHost.ready).ids;
    const probe: HostedNode = { host: probeHost, index: 0, id: probeIds[0]! };
    const beside: HostedNode = { host: probeHost, index: 1, id: probeIds[1]! };
    await Promise.all(hosts.map((host) => host.request({ cmd: 'ready', timeoutMs: 60_000 }, 65_000)));

    // 1. Topic lookups from every node.
    const topics = Array.from({ length: TOPICS }, (_, i) => `bench/topic-${i}`);
    const announcers = new Map(topics.map((topic, t) => [topic, nodes.slice(t * PER_TOPIC, (t + 1) * PER_TOPIC)]));
    for (const [topic, list] of announcers) for (const node of list) await ask(node, { cmd: 'join', topic });
    const lookups: number[] = [];
    let incomplete = 0;
    const before = await counters(hosts);
    const perNode = Math.max(1, Math.round(p.idleLookups / nodes.length));
    await Promise.all(
      hosts.slice(0, p.hosts).map(async (host) => {
        for (const node of nodes.filter((n) => n.host === host)) {
          for (let i = 0; i < perNode; i++) {
            const topic = topics[(node.index + i) % topics.length]!;
            const found = await ask<Timed<string[]>>(node, { cmd: 'lookup', topic });
            lookups.push(found.ms);
            const expected = announcers.get(topic)!.filter((a) => a !== node);
            if (!expected.every((a) => found.value.includes(a.id))) incomplete++;
          }
        }
      }),
    );
    const requestsPerLookup = ((await counters(hosts)) - before) / lookups.length;

    // 2. Lookups over one connection, idle and while it carries one large message.
    const receiver = nodes[nodes.length - 1]!;
    const besideReceiver = nodes[nodes.length - 2]!; // in R's process
    const busyTopic = topicClosestTo(receiver.id, [...nodes, probe, beside].map((n) => n.id));
    await ask(nodes[0]!, { cmd: 'join', topic: busyTopic });
    await ask(probe, { cmd: 'connect', peerId: receiver.id });
    let probeMissed = 0;
    const lookupOnce = async (): Promise<number> => {
      const found = await ask<Timed<string[]>>(probe, { cmd: 'lookup', topic: busyTopic });
      if (!found.value.includes(nodes[0]!.id)) probeMissed++;
      return found.ms;
    };
    const idle: number[] = [];
    for (let i = 0; i < p.idleLookups / 2; i++) idle.push(await lookupOnce());
    const { sha256 } = await ask<{ sha256: string }>(probe, { cmd: 'prepare', bytes: p.transferBytes }, 60_000);
    /** Sequential lookups while `from` sends `to` one message; their times, and the transfer's. */
    const lookupsDuring = async (from: HostedNode, to: HostedNode) => {
      const times: number[] = [];
      let arrived = false;
      await ask(from, { cmd: 'connect', peerId: to.id });
      const dropsBefore = udpDrops();
      const cpuBefore = [cpuMs(from.host.pid).total, cpuMs(to.host.pid).total];
      const transferStarted = performance.now();
      const transfer = (async () => {
        await ask(from, { cmd: 'sendBulk', peerId: to.id, messageBytes: p.transferBytes }, 120_000);
        while ((await ask<{ bytes: number }>(to, { cmd: 'received', from: from.id })).bytes < p.transferBytes) await sleep(5);
        arrived = true;
        return performance.now() - transferStarted;
      })();
      while (!arrived) times.push(await lookupOnce());
      const ms = await transfer;
      const dropped = udpDrops() - dropsBefore;
      const [fromCpu, toCpu] = [cpuMs(from.host.pid).total - cpuBefore[0]!, cpuMs(to.host.pid).total - cpuBefore[1]!].map((used) => Math.round((100 * used) / ms));
      const matched = (await ask<{ sha256: string }>(to, { cmd: 'digest', from: from.id }, 60_000)).sha256 === sha256;
      const load = `sending process ${fromCpu}% CPU, receiving ${toCpu}%, ${dropped} UDP datagrams dropped host-wide for want of receive buffer`;
      return { times, note: `${round(ms)} ms, ${round(p.transferBytes / 1e3 / ms)} MB/s, ${matched ? 'SHA-256 matched' : 'SHA-256 MISMATCH'}; ${load}` };
    };
    const busy = await lookupsDuring(probe, receiver);
    const control = await lookupsDuring(beside, besideReceiver);
    const seconds = (performance.now() - started) / 1000;

    const MiB = p.transferBytes / 2 ** 20;
    const during = `during a ${MiB} MiB message`;
    const elsewhere = `during one on another connection`;
    const sectionRows: BenchRow[] = [
      ...rows('topic lookup', 'ms', { [`${nodes.length} nodes`]: lookups }, `${nodes.length} nodes`, {
        [`${nodes.length} nodes`]: `${lookups.length} lookups, p99 ${round(percentile(lookups, 0.99))} ms; ${round(requestsPerLookup)} requests handled per lookup (upkeep included); ${incomplete} lookups missed an announcer; section took ${round(seconds)} s`,
      }),
      ...rows('lookup over one connection', 'ms', { idle, [during]: busy.times, [elsewhere]: control.times }, 'idle', {
        idle: `${idle.length} sequential lookups, p99 ${round(percentile(idle, 0.99))} ms; ${probeMissed} of all the probe's lookups missed the announcer`,
        [during]: `${busy.times.length} lookups while the message crossed the same connection (${busy.note}), p99 ${round(percentile(busy.times, 0.99))} ms`,
        [elsewhere]: `control: ${control.times.length} lookups while a node beside the probe sent one to a node beside R (${control.note}), p99 ${round(percentile(control.times, 0.99))} ms`,
      }),
      ...rows('lookup over one connection p99', 'ms', { idle: [percentile(idle, 0.99)], [during]: [percentile(busy.times, 0.99)], [elsewhere]: [percentile(control.times, 0.99)] }, 'idle', {
        [during]: 'target: at most 2× idle',
      }),
    ];
    return [{ name: 'dht', rows: sectionRows }];
  } finally {
    await Promise.all(hosts.map((host) => host.stop()));
    await server.close();
  }
}

if (process.argv[1] === SELF) {
  const sections = await run({ smoke: process.argv.includes('--smoke') });
  console.log(JSON.stringify(sections, null, 2));
  process.exit(0);
}
