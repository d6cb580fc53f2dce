/**
 * The DHT across processes: 24 real nodes in 4 processes (bench/dhtHost.ts) join through a real
 * signaling server, the server stops, and then every node (a) looks a topic up and connects to
 * every node announced under it, (b) connects to a node id it holds no link to, signaled through
 * the overlay, and (c) puts a record and gets another node's. Connect and lookup times are printed
 * (`dht processes:`) for the closing note and the README, never asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DhtHostConfig, DhtHostCounters, Timed } from '../bench/dhtHost.js';
import { ask, startDhtHost, type DhtHost, type HostedNode } from '../bench/dhtHosts.js';
import { Harness } from './helpers.js';

const HOSTS = 4;
const PER_HOST = 6;
const ANNOUNCERS = 6;
const TOPIC = 'processes/room';
/** Small tables, so that most pairs hold no link and their connections take real overlay routes. */
const DHT = { k: 2, maxConnections: 6, minContacts: 2 };


const harness = new Harness();
const hosts: DhtHost[] = [];
const nodes: HostedNode[] = [];
const viaServer: number[] = [];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const summary = (values: number[]) => `median ${median(values).toFixed(0)} ms, max ${Math.max(...values).toFixed(0)} ms (n = ${values.length})`;


const linked = (node: HostedNode) => ask<string[]>(node, { cmd: 'linked' });

/** Connects `node` to `peer`; a failure names what both sides saw of each other. */
async function connect(node: HostedNode, peer: HostedNode): Promise<number> {
  try {
    return (await ask<Timed<null>>(node, { cmd: 'connect', peerId: peer.id })).ms;
  } catch (err) {
    const [mine, theirs] = await Promise.all([ask(node, { cmd: 'events', peerId: peer.id }), ask(peer, { cmd: 'events', peerId: node.id })]);
    throw new Error(`${(err as Error).message}; events there: ${JSON.stringify(mine)}; at the peer: ${JSON.stringify(theirs)}`);
  }
}

/** The first node after `node` (cyclically) that it holds no link to. */
async function unlinkedPeer(node: HostedNode, skip = 1): Promise<HostedNode | undefined> {
  const links = new Set(await linked(node));
  const at = nodes.indexOf(node);
  for (let step = skip; step < nodes.length; step++) {
    const other = nodes[(at + step) % nodes.length]!;
    if (!links.has(other.id)) return other;
  }
  return undefined;
}

beforeAll(async () => {
  const server = await harness.server();
  const config: DhtHostConfig = { signalingUrl: server.url, nodes: PER_HOST, dht: DHT, deadlineMs: 170_000 };
  for (let h = 0; h < HOSTS; h++) hosts.push(startDhtHost(`dht host ${h}`, config));
  harness.defer(async () => void (await Promise.all(hosts.map((host) => host.stop()))));
  const ready = await Promise.all(hosts.map((host) => host.ready));
  // Interleaved across hosts, so that consecutive nodes sit in different processes.
  for (let i = 0; i < PER_HOST; i++) for (let h = 0; h < HOSTS; h++) nodes.push({ host: hosts[h]!, index: i, id: ready[h]!.ids[i]! });
  await Promise.all(hosts.map((host) => host.request({ cmd: 'ready', timeoutMs: 30_000 }, 35_000)));
  // Through the server while it runs: a baseline for the overlay's connect times, measured as (b)
  // measures them (the processes side by side, each connecting one node after another).
  await Promise.all(
    hosts.map(async (host) => {
      for (const node of nodes.filter((n) => n.host === host)) {
        const peer = await unlinkedPeer(node, nodes.length / 2);
        if (peer) viaServer.push(await connect(node, peer));
      }
    }),
  );
  await server.close();
}, 120_000);

afterAll(() => harness.cleanup(), 60_000);

describe(`the DHT across processes (${HOSTS * PER_HOST} nodes in ${HOSTS} processes, server stopped after they joined)`, () => {
  it('(a) every node finds every node announced under a topic and connects to each', async () => {
    const announcers = nodes.slice(0, ANNOUNCERS);
    for (const node of announcers) await ask(node, { cmd: 'join', topic: TOPIC });
    const lookups: number[] = [];
    const connects: number[] = [];
    // One node per process at a time: the processes run side by side, as machines would.
    await Promise.all(
      hosts.map(async (host) => {
        for (const node of nodes.filter((n) => n.host === host)) {
          const found = await ask<Timed<string[]>>(node, { cmd: 'lookup', topic: TOPIC });
          lookups.push(found.ms);
          const expected = announcers.filter((a) => a !== node).map((a) => a.id);
          expect(new Set(found.value)).toEqual(new Set(expected));
          const links = new Set(await linked(node));
          for (const id of expected) {
            // Also over a DHT link that is open already: the application's use keeps it open.
            const ms = await connect(node, nodes.find((n) => n.id === id)!);
            if (!links.has(id)) connects.push(ms);
          }
          // DHT links come and go; the ones the application asked for stay.
          const now = await linked(node);
          for (const id of expected.filter((e) => !now.includes(e))) {
            expect.fail(`${node.id.slice(0, 8)} lost its connection to ${id.slice(0, 8)}: ${JSON.stringify(await ask(node, { cmd: 'events', peerId: id }))}`);
          }
        }
      }),
    );
    console.log(`dht processes: topic lookup ${summary(lookups)}; connects to announcers through the overlay ${summary(connects)}`);
    expect(connects.length).toBeGreaterThan(0);
  }, 120_000);

  it('(b) every node connects to a node id it holds no link to, signaled through the overlay', async () => {
    const viaOverlay: number[] = [];
    await Promise.all(
      hosts.map(async (host) => {
        for (const node of nodes.filter((n) => n.host === host)) {
          const peer = await unlinkedPeer(node, 7);
          if (!peer) continue; // linked to all: nothing left to route
          viaOverlay.push(await connect(node, peer));
          if (!(await linked(node)).includes(peer.id)) {
            expect.fail(`${node.id.slice(0, 8)} lost its connection to ${peer.id.slice(0, 8)}: ${JSON.stringify(await ask(node, { cmd: 'events', peerId: peer.id }))}`);
          }
        }
      }),
    );
    expect(viaOverlay.length).toBeGreaterThanOrEqual(nodes.length / 2);
    const ratio = median(viaOverlay) / median(viaServer);
    const counters = await Promise.all(hosts.map((host) => host.request<DhtHostCounters>({ cmd: 'counters' }, 10_000)));
    const resent = counters.reduce((sum, c) => sum + c.signalsResent, 0);
    console.log(`dht processes: connect through the server ${summary(viaServer)}; through the overlay ${summary(viaOverlay)}; overlay/server ${ratio.toFixed(2)}×; signals sent again so far: ${resent}`);
  }, 120_000);

  it('(c) every node puts a record and gets another node’s', async () => {
    await Promise.all(nodes.map((node, i) => ask(node, { cmd: 'put', key: 'profile', value: `node ${i}`, seq: 1 })));
    await Promise.all(
      nodes.map(async (node, i) => {
        const j = (i + 5) % nodes.length;
        expect(await ask(node, { cmd: 'get', owner: nodes[j]!.id, key: 'profile' })).toEqual({ value: `node ${j}`, seq: 1 });
      }),
    );
  }, 60_000);
});
