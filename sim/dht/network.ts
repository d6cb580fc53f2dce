/**
 * The simulated network: every node runs the real {@link Dht} engine, with links, timers and
 * randomness from here instead of WebRTC. Connections between nodes are signaled exactly as the
 * real node does it: through the server while joining, through the overlay afterwards.
 */
import { Dht } from '../../src/dht/dht.js';
import type { DhtIo, DhtOptions } from '../../src/dht/options.js';
import { keyBytes, compareDistance } from '../../src/dht/keyspace.js';
import type { DhtMessage } from '../../src/dht/messages.js';
import { oneWay, place, type Place } from './latency.js';
import { SeededRandom } from './random.js';
import { OrderedSet } from './orderedSet.js';
import { Scheduler } from './scheduler.js';

/** How a node treats requests that are not its own: `drop` forwards nothing, `lie` answers at once with wrong contacts. */
export type Behaviour = 'honest' | 'drop' | 'lie';

/** One connection between two nodes, shared by both ends' {@link SimNode.links}. */
export interface SimLink {
  readonly ends: readonly [SimNode, SimNode];
  /** False once closed: messages still in flight on it are lost (a link opened later is another). */
  open: boolean;
}

export interface SimNode {
  readonly id: string;
  readonly place: Place;
  readonly dht: Dht;
  readonly behaviour: Behaviour;
  /** Its open links, by the id of the node at the other end. */
  readonly links: Map<string, SimLink>;
  alive: boolean;
  /** When its self-lookup completed; lookups count only nodes that had joined. */
  joinedAt?: number;
}

export interface NetworkOptions {
  seed: number;
  dht?: DhtOptions;
  /** How long a dead node's links stay up at its neighbours (liveness; measured 3.7 s median here). */
  detectMs?: number;
  /** Nodes the signaling server introduces to a joining node. */
  bootstrapPeers?: number;
}

/** Signals the simulated connector exchanges (the real node sends offers, answers and candidates instead). */
type SimSignal = { kind: 'offer' } | { kind: 'answer' } | { kind: 'reject' };

const CONNECT_TIMEOUT_MS = 10_000;
/** The signaling server sits in region 2 with a 5 ms access link. */
const SERVER: Place = { region: 2, accessMs: 5 };

export class Network {
  readonly clock = new Scheduler();
  readonly random: SeededRandom;
  readonly nodes = new Map<string, SimNode>();
  /** Messages sent per request id, for the requests being measured. */
  readonly traffic = new Map<string, number>();
  messages = 0;
  /** Connection attempts by outcome. */
  readonly connects = { opened: 0, rejected: 0, unroutable: 0, timedOut: 0 };
  /** Whether {@link traffic} counts every request's messages (only while measuring: it grows with every request). */
  countTraffic = false;
  readonly #options: Required<NetworkOptions>;
  readonly #connecting = new Map<string, () => void>();
  /** Live, joined, honest nodes: the lookup targets' ground truth (in the order they joined). */
  readonly joined = new OrderedSet<SimNode>();
  /** Live nodes, by when they were added. */
  readonly alive = new OrderedSet<SimNode>();
  /** Live nodes that have joined, by when they were added: whom the server introduces. */
  readonly #introducible = new OrderedSet<SimNode>();
  /** When each node was added (a counter). */
  readonly #added = new Map<SimNode, number>();
  #joins = 0;

  constructor(options: NetworkOptions) {
    this.#options = { dht: {}, detectMs: 3700, bootstrapPeers: 3, ...options };
    this.random = new SeededRandom(options.seed);
  }

  /** Adds a node and joins it through peers the server introduces. */
  add(behaviour: Behaviour = 'honest'): SimNode {
    const id = Buffer.from(this.random.bytes(32)).toString('hex');
    const links = new Map<string, SimLink>();
    const io: DhtIo = {
      send: (peerId, message) => this.#send(node, peerId, message),
      connect: (peerId, via) => this.#connect(node, peerId, via),
      release: (peerId) => this.#close(node.id, peerId),
      bootstrap: () => node.dht.join(this.#introduce(node)),
      signal: (origin, envelope, via) => this.#onSignal(node, origin, envelope as SimSignal, via),
      now: () => this.clock.now(),
      setTimer: (ms, fn) => this.clock.at(ms, () => node.alive && fn()),
      random: (n) => this.random.bytes(n),
    };
    const node: SimNode = { id, place: place(this.random), dht: new Dht(id, io, this.#options.dht), behaviour, links, alive: true };
    node.dht.onJoined = () => {
      // A node killed while its self-lookup ran hears of it when stop() ends the lookup: it never
      // joined, and a dead node must not become the ground truth of lookups.
      if (!node.alive) return;
      node.joinedAt = this.clock.now();
      if (behaviour === 'honest') this.joined.add(node, this.#joins++);
      this.#introducible.add(node, this.#added.get(node)!);
    };
    this.#added.set(node, this.nodes.size);
    this.nodes.set(id, node);
    this.alive.add(node, this.#added.get(node)!);
    node.dht.join(this.#introduce(node));
    return node;
  }

  /** Up to `bootstrapPeers` random live nodes that have joined, as the server's registration ack lists them. */
  #introduce(node: SimNode): string[] {
    const all = this.#introducible.items;
    // The candidates are every introducible node but `node` itself, which sits at `self` if it is one.
    const self = this.#introducible.indexOf(node);
    const candidates = self < 0 ? all.length : all.length - 1;
    const picked = new Set<string>();
    for (let i = 0; i < this.#options.bootstrapPeers * 3 && picked.size < Math.min(this.#options.bootstrapPeers, candidates); i++) {
      const at = this.random.int(candidates);
      picked.add(all[self >= 0 && at >= self ? at + 1 : at]!.id);
    }
    return [...picked];
  }

  /** Kills a node at once (SIGKILL): its neighbours notice after `detectMs`. */
  kill(node: SimNode): void {
    node.alive = false;
    this.joined.delete(node);
    this.alive.delete(node);
    this.#introducible.delete(node);
    node.dht.stop();
    for (const peerId of node.links.keys()) {
      this.clock.post(this.#options.detectMs, () => this.#close(node.id, peerId));
    }
  }

  /** The honest joined node closest to `target`. */
  closestHonest(target: string): SimNode | undefined {
    const key = keyBytes(target);
    let best: SimNode | undefined;
    for (const node of this.joined) if (!best || compareDistance(node.dht.table.selfKey, best.dht.table.selfKey, key) < 0) best = node;
    return best;
  }

  #send(from: SimNode, to: string, message: DhtMessage): void {
    const link = from.links.get(to);
    if (!from.alive || link === undefined) return;
    const target = link.ends[0] === from ? link.ends[1] : link.ends[0];
    this.messages++;
    if (this.countTraffic && (message.t === 'req' || message.t === 'res')) this.traffic.set(message.rid, (this.traffic.get(message.rid) ?? 0) + 1);
    this.clock.post(oneWay(from.place, target.place, this.random), () => {
      if (link.open && target.alive) this.#deliver(target, from.id, message);
    });
  }

  #deliver(node: SimNode, from: string, message: DhtMessage): void {
    const own = message.t === 'req' && message.kind === 'signal' && message.target === node.id;
    if (node.behaviour === 'honest' || message.t === 'rep' || own || (message.t === 'res' && node.behaviour === 'lie')) {
      node.dht.receive(from, message);
      return;
    }
    if (node.behaviour === 'lie' && message.t === 'req' && message.kind !== 'signal') {
      const liars = this.joined.items;
      const closest = [node.id, ...Array.from({ length: 7 }, () => this.random.pick(liars).id)];
      this.#send(node, from, { t: 'res', rid: message.rid, path: message.path, from: node.id, closest, topics: [] });
    }
  }

  #connect(node: SimNode, peerId: string, via: string[]): void {
    const peer = this.nodes.get(peerId);
    const key = `${node.id}>${peerId}`;
    const fail = () => {
      this.#connecting.delete(key);
      node.dht.connectFailed(peerId);
    };
    if (!peer || !peer.alive) return this.clock.post(CONNECT_TIMEOUT_MS, fail);
    const timeout = this.clock.at(CONNECT_TIMEOUT_MS, () => {
      if (!this.#connecting.has(key)) return;
      this.connects.timedOut++;
      fail();
    });
    this.#connecting.set(key, () => {
      timeout();
      this.#open(node, peer);
    });
    if (node.joinedAt === undefined) {
      // Signaled through the server: offer and answer each cross it.
      const viaServer = 2 * (oneWay(node.place, SERVER, this.random) + oneWay(SERVER, peer.place, this.random));
      this.clock.post(viaServer, () => this.#onSignal(peer, node.id, { kind: 'offer' }, [], true));
    } else if (!node.dht.routeSignal(peerId, { kind: 'offer' }, via)) {
      this.connects.unroutable++;
      timeout();
      fail();
    }
  }

  /** A signal reached `node`; the answer to an offer goes back the way the offer came (server or overlay). */
  #onSignal(node: SimNode, origin: string, signal: SimSignal, via: string[] = [], viaServer = false): void {
    const pending = this.#connecting.get(`${node.id}>${origin}`);
    if (signal.kind === 'offer') {
      const answer: SimSignal = node.alive && node.dht.accepts(origin) ? { kind: 'answer' } : { kind: 'reject' };
      const initiator = this.nodes.get(origin)!;
      if (viaServer) {
        this.clock.post(2 * (oneWay(node.place, SERVER, this.random) + oneWay(SERVER, initiator.place, this.random)), () => this.#onSignal(initiator, node.id, answer));
      } else node.dht.routeSignal(origin, answer, via);
    } else if (pending && signal.kind === 'answer') {
      // ICE checks and the DTLS handshake: two round trips on the direct path.
      this.clock.post(4 * oneWay(node.place, this.nodes.get(origin)!.place, this.random), pending);
    } else if (pending) {
      this.connects.rejected++;
      this.#connecting.delete(`${node.id}>${origin}`);
      node.dht.connectFailed(origin);
    }
  }

  #open(node: SimNode, peer: SimNode): void {
    this.#connecting.delete(`${node.id}>${peer.id}`);
    if (!node.alive || !peer.alive || node.links.has(peer.id)) return node.dht.connectFailed(peer.id);
    this.connects.opened++;
    const link: SimLink = { ends: [node, peer], open: true };
    node.links.set(peer.id, link);
    peer.links.set(node.id, link);
    peer.dht.linkUp(node.id);
    // The peer may have released the link at once (its table had no room after all).
    if (node.links.has(peer.id)) node.dht.linkUp(peer.id);
  }

  #close(a: string, b: string): void {
    const nodeA = this.nodes.get(a)!;
    const nodeB = this.nodes.get(b)!;
    const link = nodeA.links.get(b);
    if (!link) return;
    link.open = false;
    nodeA.links.delete(b);
    nodeB.links.delete(a);
    if (nodeA.alive) nodeA.dht.linkDown(b);
    if (nodeB.alive) nodeB.dht.linkDown(a);
  }
}
