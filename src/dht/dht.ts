/**
 * The DHT protocol engine of one node: a connectionful Kademlia whose requests travel recursively,
 * hop by hop over open connections, toward their target. It does no IO of its own: links, timers and
 * randomness come in through `DhtIo`, so the same code runs over WebRTC data channels and in
 * the in-memory simulator.
 *
 * @module
 */
import { toBase64Url } from '../wire/base64url.js';
import { commonPrefixLength, compareDistance, keyOf } from './keyspace.js';
import { LinkRates } from './linkRates.js';
import { Membership } from './membership.js';
import type { LookupResult } from './lookup.js';
import { MAX_HOPS, type DhtMessage, type RouteKind, type RouteReply, type RouteRequest } from './messages.js';
import { DEFAULT_DHT, type DhtIo, type DhtOptions } from './options.js';
import { RecordStore } from './recordStore.js';
import { Replicas } from './replicas.js';
import { Requests, type RequestExtras } from './requests.js';
import { RoutingTable } from './routingTable.js';
import { SeenRequests, wasTried } from './seen.js';
import { Signals } from './signals.js';

/** Counters of what the engine did, for `/dht` and the simulator. */
export interface DhtCounters {
  requests: number;
  forwarded: number;
  answered: number;
  repliesRouted: number;
  signalsDelivered: number;
  /** Signals of ours sent again, unacknowledged after a while. */
  signalsResent: number;
  dropped: Record<'rate' | 'path' | 'hops' | 'unroutable' | 'orphan-reply', number>;
  lookups: number;
}

const SEEN_LIMIT = 8192;
/** Request ids are held at least half this long: ten lookup timeouts, far longer than any path takes. */
const SEEN_MS = 60_000;

/**
 * @example
 * ```ts
 * const dht = new Dht(myId, io, { k: 8, maxConnections: 64 });
 * dht.join(bootstrapIds);                  // connect, look ourselves up, fill the buckets
 * dht.request('find-topic', topicKey('chat'), {}, (result) => console.log(result.topics));
 * dht.routeSignal(peerId, envelope);       // overlay signaling
 * ```
 */
export class Dht {
  readonly id: string;
  readonly table: RoutingTable;
  readonly store: RecordStore;
  readonly counters: DhtCounters = {
    requests: 0,
    forwarded: 0,
    answered: 0,
    repliesRouted: 0,
    signalsDelivered: 0,
    signalsResent: 0,
    dropped: { rate: 0, path: 0, hops: 0, unroutable: 0, 'orphan-reply': 0 },
    lookups: 0,
  };
  readonly #io: DhtIo;
  readonly #members: Membership;
  readonly #replicas: Replicas;
  readonly #requests: Requests;
  readonly #signals: Signals;
  /** Requests seen lately, with the next hops already tried, so parallel paths stay apart. */
  readonly #seen: SeenRequests;
  /** Each link's message budget: every message counts, replies too, so a peer cannot flood through any of them. */
  readonly #rates: LinkRates;
  #stopped = false;

  constructor(id: string, io: DhtIo, options: DhtOptions = {}) {
    this.id = id;
    this.#io = io;
    this.#seen = new SeenRequests(SEEN_LIMIT, SEEN_MS, () => io.now());
    const { maxConnections, alpha, replication, lookupTimeoutMs, refreshMs, rate } = { ...DEFAULT_DHT, ...options };
    // Contacts are links the node keeps: never more of them than links it may hold.
    this.table = new RoutingTable(id, { ...options, maxContacts: Math.min(options.maxContacts ?? maxConnections, maxConnections) });
    this.#rates = new LinkRates(rate);
    this.store = new RecordStore({ ...options.store, now: () => io.now() });
    const links = () => this.#members.links;
    this.#replicas = new Replicas(this.store, links, (peerId, message) => io.send(peerId, message), replication);
    this.#requests = new Requests({
      id,
      alpha,
      k: this.table.options.k,
      timeoutMs: lookupTimeoutMs,
      links,
      tried: (rid) => this.#seen.tried(rid),
      depth: () => this.table.depth,
      send: (peerId, request) => io.send(peerId, request),
      now: () => io.now(),
      setTimer: (ms, fn) => io.setTimer(ms, fn),
      addLocal: (lookup, request) => this.#replicas.addLocal(lookup, request, this.#members.links.nextHop(this.table.selfKey, keyOf(request.target)) === undefined),
    });
    this.#signals = new Signals({
      id,
      selfKey: this.table.selfKey,
      links,
      seen: this.#seen,
      counters: this.counters,
      send: (peerId, message) => io.send(peerId, message),
      deliver: (origin, envelope, via) => io.signal(origin, envelope, via),
      setTimer: (ms, fn) => io.setTimer(ms, fn),
    });
    this.#members = new Membership(this.table, io, { maxConnections, maxConnecting: alpha * 4, refreshMs }, (target, done) =>
      this.request('find', target, {}, done),
    );
  }

  /** Called once the node has looked itself up and connected to what it found. */
  set onJoined(callback: () => void) {
    this.#members.onJoined = callback;
  }

  /** Called as each refresh round (every `refreshMs`, once joined) starts and ends. */
  set onRefresh(callback: (running: boolean) => void) {
    this.#members.onRefresh = callback;
  }

  get joined(): boolean {
    return this.#members.joined;
  }

  /** Open links, contacts or not. */
  get links(): number {
    return this.#members.links.size;
  }

  /** Whether to accept a DHT connection from `peerId` (see {@link Membership.accepts}). */
  accepts(peerId: string, address?: string): boolean {
    return this.#members.accepts(peerId, address);
  }

  /** Joins through the given nodes: connects to them, looks itself up, then fills its buckets. */
  join(bootstrap: readonly string[]): void {
    this.#members.join(bootstrap);
  }

  /** A connection to `peerId` opened (authenticated, fingerprint pinned). */
  linkUp(peerId: string, address?: string): void {
    if (this.#members.linkUp(peerId, address)) this.#replicas.handOver(peerId);
  }

  /** A connection attempt started by {@link DhtIo.connect} failed. */
  connectFailed(peerId: string): void {
    this.#members.connectFailed(peerId);
  }

  /** The application started to use the link to `peerId` (see {@link DhtIo.inUse}): the peer is told, so both ends keep it. */
  hold(peerId: string): void {
    this.#members.hold(peerId);
  }

  /** A connection closed. */
  linkDown(peerId: string): void {
    this.#rates.delete(peerId);
    // Links the table takes in its place are new contacts, as if they had just opened.
    for (const taken of this.#members.linkDown(peerId)) this.#replicas.handOver(taken);
  }

  /** Stops timers and ends pending lookups; links stay the node's to close. */
  stop(): void {
    this.#stopped = true;
    this.#members.stop();
    this.#requests.stop();
    this.#signals.stop();
  }

  /**
   * Sends a request toward `target` over up to `alpha` paths and calls `done` once with what came
   * back (also when nothing did).
   */
  request(kind: Exclude<RouteKind, 'signal'>, target: string, extras: RequestExtras, done: (result: LookupResult) => void): void {
    this.counters.lookups++;
    this.#requests.start(this.#newRid(), kind, target, extras, done);
  }

  /**
   * Sends a signaling envelope toward node `target`, through the nodes `via` names first (a route
   * from a lookup result or from {@link DhtIo.signal}), then greedily, and again until the target
   * acknowledges it (see {@link Signals}); false when no link leads on.
   */
  routeSignal(target: string, envelope: unknown, via: readonly string[] = []): boolean {
    return this.#signals.send(this.#newRid(), target, envelope, via);
  }

  /** Whether a signal to node `target` can leave without a route: it is linked, or a link is closer to it than this node. */
  routesTo(target: string): boolean {
    return this.#signals.leadsTo(target);
  }

  /** Handles a message that arrived over the link to `from`. */
  receive(from: string, message: DhtMessage): void {
    if (this.#stopped) return;
    if (!this.#rates.take(from, this.#io.now())) {
      this.counters.dropped.rate++;
      return;
    }
    switch (message.t) {
      case 'res':
        return this.#onReply(message);
      case 'rep':
        return this.#replicas.receive(message);
      case 'unneeded':
        return this.#members.unneeded(from);
      case 'needed':
        return this.#members.needed(from);
      case 'held':
        return this.#members.held(from);
      case 'req':
        return this.#onRequest(from, message);
    }
  }

  #onRequest(from: string, request: RouteRequest): void {
    this.counters.requests++;
    const { path } = request;
    if (path[path.length - 1] !== from || path.includes(this.id)) {
      this.counters.dropped.path++;
      return;
    }
    if (request.kind === 'signal') return this.#signals.receive(request);
    this.#members.learn(path);
    const tried = this.#seen.sight(request.rid);
    const targetKey = keyOf(request.target);
    const { avoid } = request;
    const next = this.#members.links.nextHop(this.table.selfKey, targetKey, (id) => path.includes(id) || wasTried(tried, id) || avoid?.includes(id) === true);
    const forward = next !== undefined && path.length < MAX_HOPS;
    if (forward) {
      this.#seen.addTried(request.rid, next.id);
      this.counters.forwarded++;
      this.#io.send(next.id, { ...request, path: [...path, this.id] });
    }
    // Near the target, answer (and store) even while forwarding: the next node may drop the request
    // or lie, and our contacts there are what an honest closest node would report.
    if (!forward || commonPrefixLength(this.table.selfKey, targetKey) >= this.table.depth - 2) {
      this.counters.answered++;
      const reply: RouteReply = { t: 'res', rid: request.rid, path, from: this.id, closest: this.#closestTo(targetKey) };
      this.#replicas.fill(reply, request);
      this.#io.send(from, reply);
    }
  }

  /** Us and our links, closest to the target first, at most k. */
  #closestTo(targetKey: Uint8Array): string[] {
    const { k } = this.table.options;
    const contacts = this.#members.links.closest(targetKey, k);
    const at = contacts.findIndex((c) => compareDistance(this.table.selfKey, c.key, targetKey) < 0);
    const ids = contacts.map((c) => c.id);
    ids.splice(at < 0 ? ids.length : at, 0, this.id);
    return ids.slice(0, k);
  }

  /** A reply walks its request's path backwards, skipping hops whose link has closed since. */
  #onReply(reply: RouteReply): void {
    const { path } = reply;
    if (path[0] === this.id) {
      if (!this.#signals.acked(reply)) this.#requests.reply(reply);
      return;
    }
    const at = path.indexOf(this.id);
    for (let i = at - 1; at > 0 && i >= 0; i--) {
      if (!this.#members.links.has(path[i]!)) continue;
      this.counters.repliesRouted++;
      this.#io.send(path[i]!, reply);
      return;
    }
    this.counters.dropped['orphan-reply']++;
  }

  #newRid(): string {
    return toBase64Url(this.#io.random(16));
  }
}
