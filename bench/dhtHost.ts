/**
 * A process hosting several DHT nodes, driven by its parent over IPC (bench/child.ts): the DHT
 * bench section and the multi-process DHT test spread their nodes over a few of these, so that
 * lookups and overlay signals cross process boundaries the way they cross machines.
 *
 * Config: {@link DhtHostConfig}. Requests: {@link DhtHostRequest}; `node` is an index into this
 * host's nodes. Every node runs `createNode({ dht, candidateFilter: loopbackOnly })`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createNode, loopbackOnly, type NodeDhtOptions, type P2PNode, type PeerEvent } from '../src/index.js';
import { boundChild, serve, sleep } from './child.js';

export interface DhtHostConfig {
  signalingUrl: string;
  nodes: number;
  dht?: NodeDhtOptions;
  /** The process exits by itself after this long. */
  deadlineMs: number;
}

/** What the host reports once its nodes have started. */
export interface DhtHostReady {
  ids: string[];
}

/** Summed engine counters of every node in a host. */
export interface DhtHostCounters {
  lookups: number;
  requests: number;
  forwarded: number;
  signalsResent: number;
}

export type DhtHostRequest =
  | { id: number; cmd: 'ready'; timeoutMs: number }
  | { id: number; cmd: 'join'; node: number; topic: string }
  | { id: number; cmd: 'lookup'; node: number; topic: string }
  | { id: number; cmd: 'connect'; node: number; peerId: string }
  | { id: number; cmd: 'linked'; node: number }
  | { id: number; cmd: 'put'; node: number; key: string; value: string; seq: number }
  | { id: number; cmd: 'get'; node: number; owner: string; key: string }
  | { id: number; cmd: 'counters' }
  | { id: number; cmd: 'prepare'; bytes: number }
  | { id: number; cmd: 'sendBulk'; node: number; peerId: string; messageBytes: number }
  | { id: number; cmd: 'received'; node: number; from: string }
  | { id: number; cmd: 'digest'; node: number; from: string }
  | { id: number; cmd: 'events'; node: number; peerId: string }
  | { id: number; cmd: 'exit' };

/** A timed result: what the call returned and how long it took, ms. */
export interface Timed<T> {
  value: T;
  ms: number;
}

const config = JSON.parse(process.argv[2]!) as DhtHostConfig;
boundChild('dht host', config.deadlineMs);

const nodes: P2PNode[] = [];
/** Each node's peer events, for a failing test to show what became of a connection. */
const events: Array<Array<PeerEvent & { at: number }>> = [];
/**
 * Binary messages received per node, by sender. Kept, and hashed only when asked: hashing 64 MiB as
 * it arrives would stall the node's event loop, and the DHT traffic a bench measures with it.
 */
const inboxes: Array<Map<string, { bytes: number; messages: Uint8Array[] }>> = [];
/** Random bytes made ahead of a timed send (`prepare`), so that making them is not timed. */
let prepared: { payload: Buffer; sha256: string } | undefined;
for (let i = 0; i < config.nodes; i++) {
  const node = createNode({ signalingUrl: config.signalingUrl, candidateFilter: loopbackOnly, dht: config.dht ?? true });
  const inbox = new Map<string, { bytes: number; messages: Uint8Array[] }>();
  node.data$.subscribe(({ from, data }) => {
    if (typeof data === 'string') return;
    let entry = inbox.get(from);
    if (!entry) inbox.set(from, (entry = { bytes: 0, messages: [] }));
    entry.bytes += data.byteLength;
    entry.messages.push(data);
  });
  const log: Array<PeerEvent & { at: number }> = [];
  events.push(log);
  node.peerEvents$.subscribe((event) => log.push({ ...event, at: Date.now() }));
  // One at a time: each joins through the nodes already in, as people arrive one by one.
  await node.start();
  nodes.push(node);
  inboxes.push(inbox);
}

async function timed<T>(work: Promise<T>): Promise<Timed<T>> {
  const started = performance.now();
  const value = await work;
  return { value, ms: performance.now() - started };
}

function at(index: number): P2PNode {
  const node = nodes[index];
  if (!node) throw new Error(`no node ${index} in this host`);
  return node;
}

serve<DhtHostRequest>(async (req) => {
  switch (req.cmd) {
    case 'ready': {
      const deadline = Date.now() + req.timeoutMs;
      while (nodes.some((n) => n.dhtInfo()?.state !== 'ready')) {
        if (Date.now() > deadline) throw new Error(`DHT states: ${nodes.map((n) => n.dhtInfo()?.state).join(', ')}`);
        await sleep(50);
      }
      return null;
    }
    case 'join':
      return at(req.node).join(req.topic);
    case 'lookup':
      return timed(at(req.node).lookup(req.topic));
    case 'connect':
      return timed(at(req.node).connectToNode(req.peerId).then(() => null));
    case 'linked':
      return at(req.node)
        .peers()
        .map((p) => p.id);
    case 'put':
      return at(req.node).put({ key: req.key, value: req.value, seq: req.seq });
    case 'get': {
      const record = await at(req.node).get(req.owner, req.key);
      return record ? { value: new TextDecoder().decode(record.value), seq: record.seq } : null;
    }
    case 'counters': {
      const sum: DhtHostCounters = { lookups: 0, requests: 0, forwarded: 0, signalsResent: 0 };
      for (const node of nodes) {
        const info = node.dhtInfo();
        sum.lookups += info?.lookups ?? 0;
        sum.requests += info?.requests ?? 0;
        sum.forwarded += info?.forwarded ?? 0;
        sum.signalsResent += info?.signalsResent ?? 0;
      }
      return sum;
    }
    case 'prepare': {
      const payload = randomBytes(req.bytes);
      prepared = { payload, sha256: createHash('sha256').update(payload).digest('hex') };
      return { sha256: prepared.sha256 };
    }
    case 'sendBulk': {
      // The prepared bytes, in messages of `messageBytes`, as fast as the link accepts them.
      if (!prepared) throw new Error('prepare first');
      const { payload } = prepared;
      const node = at(req.node);
      const started = performance.now();
      for (let sent = 0; sent < payload.length; sent += req.messageBytes) await node.send(req.peerId, payload.subarray(sent, sent + req.messageBytes));
      return { ms: performance.now() - started };
    }
    case 'received':
      return { bytes: inboxes[req.node]?.get(req.from)?.bytes ?? 0 };
    case 'digest': {
      const hash = createHash('sha256');
      for (const message of inboxes[req.node]?.get(req.from)?.messages ?? []) hash.update(message);
      return { sha256: hash.digest('hex') };
    }
    case 'events':
      return events[req.node]?.filter((event) => event.id === req.peerId);
    default:
      throw new Error(`unknown command ${(req as { cmd: string }).cmd}`);
  }
});
process.send!({ ready: true, ids: nodes.map((n) => n.nodeId) } satisfies { ready: true } & DhtHostReady);
