/**
 * Which connections a DHT node holds and why: joining through bootstrap peers, filling k-buckets
 * by looking up keys in them, and closing links that neither end needs. A link stays open while
 * either end holds the other as a contact (Kademlia buckets are symmetric: two nodes sit in the
 * same bucket index of each other's table), so a node joining can always reach its neighbours.
 *
 * @module
 */
import { BucketRefresh } from './bucketRefresh.js';
import { keyOf } from './keyspace.js';
import { LinkBudget } from './linkBudget.js';
import { LinkHolds } from './linkHolds.js';
import { Links } from './links.js';
import type { LookupResult } from './lookup.js';
import type { DhtMessage } from './messages.js';
import type { Contact, RoutingTable } from './routingTable.js';

/** The IO membership needs (a subset of `DhtIo`). */
export interface MembershipIo {
  send(peerId: string, message: DhtMessage): void;
  connect(peerId: string, via: string[]): void;
  release(peerId: string): void;
  inUse?(peerId: string): boolean;
  /** The node has no link left: ask the signaling server for peers to join through again. */
  bootstrap(): void;
  now(): number;
  setTimer(ms: number, fn: () => void): () => void;
  random(bytes: number): Uint8Array;
}

export interface MembershipOptions {
  /** Links in all, contacts or not: the connection budget. Default 64. */
  maxConnections: number;
  /** Connection attempts at once. */
  maxConnecting: number;
  refreshMs: number;
}

type Find = (target: string, done: (result: LookupResult) => void) => void;

/** Refresh period while the node has not joined yet. */
const JOIN_RETRY_MS = 5000;

/**
 * @example
 * ```ts
 * const members = new Membership(table, io, options, (target, done) => dht.request('find', target, {}, done));
 * members.join(bootstrapIds);
 * members.linkUp(peerId); // from the node, for every connection that opens
 * ```
 */
export class Membership {
  /** Every open link, contact or not: queries route over all of them, the table only decides which to hold. */
  readonly links = new Links();
  readonly #connecting = new Set<string>();
  /** Who else holds each link: a link the peer does not hold closes as soon as we do not either. */
  readonly #holds: LinkHolds;
  #joined = false;
  #selfLookupRunning = false;
  readonly #buckets: BucketRefresh;
  readonly #budget: LinkBudget;
  #stopTimer: (() => void) | undefined;
  #stopped = false;
  onJoined: () => void = () => {};
  /** A refresh round started (true) or its last lookup ended (false). */
  onRefresh: (running: boolean) => void = () => {};

  constructor(
    private readonly table: RoutingTable,
    private readonly io: MembershipIo,
    private readonly options: MembershipOptions,
    private readonly find: Find,
  ) {
    this.#holds = new LinkHolds(io.inUse && ((peerId) => io.inUse!(peerId)));
    this.#buckets = new BucketRefresh(table);
    this.#budget = new LinkBudget(this.links, table, this.#holds, io, options.maxConnections);
  }

  get joined(): boolean {
    return this.#joined;
  }

  /** Whether a connection from `peerId` is welcome (see {@link LinkBudget.accepts}). */
  accepts(peerId: string, address?: string): boolean {
    return this.#budget.accepts(peerId, address);
  }

  /** Connects to `bootstrap`; the first call also starts the refresh timer. */
  join(bootstrap: readonly string[]): void {
    for (const id of bootstrap) this.#connect(id);
    if (!this.#stopTimer) this.#schedule();
    // Nobody to join through: this is the first node of a network, joined as it stands.
    if (bootstrap.length === 0 && this.links.size === 0 && !this.#joined) {
      this.#joined = true;
      this.onJoined();
    }
  }

  linkUp(peerId: string, address?: string): boolean {
    this.#connecting.delete(peerId);
    const contact: Contact = { id: peerId, key: keyOf(peerId), address };
    this.links.set(peerId, contact);
    this.#holds.opened(peerId, this.io.now());
    this.hold(peerId);
    this.#budget.opened();
    const outcome = this.table.add(contact);
    if (!outcome.added) {
      this.#unneed(peerId);
      return false;
    }
    if (outcome.evicted) this.#unneed(outcome.evicted.id);
    if (!this.#joined && !this.#selfLookupRunning) this.#selfLookup();
    return true;
  }

  connectFailed(peerId: string): void {
    this.#connecting.delete(peerId);
  }

  /** A link closed; returns the open links the table took in its contact's place (see {@link #refill}). */
  linkDown(peerId: string): string[] {
    // A bucket that lost a contact may find a new one again: refresh it next round.
    const contact = this.table.get(peerId);
    if (contact) this.#buckets.lost(this.table.bucketOf(contact.key));
    this.links.delete(peerId);
    this.#connecting.delete(peerId);
    this.#holds.closed(peerId);
    this.table.remove(peerId);
    return contact ? this.#refill() : [];
  }

  /**
   * A contact left the table: open links it did not take when their bucket was full take the room
   * now, oldest first, as Kademlia's replacement cache would. Without this a node could hold links
   * and yet too few contacts until a refresh round found new nodes, since lookups skip linked ones.
   */
  #refill(): string[] {
    const taken: string[] = [];
    for (const contact of this.links.values()) {
      if (this.table.has(contact.id)) continue;
      const outcome = this.table.consider(contact);
      if (!outcome.added || outcome.evicted) continue;
      this.table.add(contact);
      taken.push(contact.id);
      if (this.#holds.retractUnneeded(contact.id)) this.io.send(contact.id, { t: 'held' });
    }
    return taken;
  }

  /** The peer holds the link again, after it said `unneeded`. */
  held(peerId: string): void {
    if (this.links.has(peerId)) this.#holds.peerHeld(peerId);
  }

  /** The peer does not hold the link. */
  unneeded(peerId: string): void {
    if (!this.links.has(peerId)) return;
    this.#holds.peerUnneeded(peerId);
    if (!this.table.has(peerId)) this.io.release(peerId);
  }

  /** The peer's application uses the link: it stays open, and off the DHT's connection budget. */
  needed(peerId: string): void {
    if (!this.links.has(peerId)) return;
    this.#holds.peerNeeded(peerId);
  }

  /**
   * Tells the peer, once per link, when our application uses the link to it (now or from when it
   * opens): the peer must not close it to make room for its own contacts, nor count it against its
   * budget. Only the initiator's application knows why a connection was made.
   */
  hold(peerId: string): void {
    if (this.links.has(peerId) && this.#holds.tellNeeded(peerId)) this.io.send(peerId, { t: 'needed' });
  }

  stop(): void {
    this.#stopped = true;
    this.#stopTimer?.();
    this.#budget.stop();
  }

  #unneed(peerId: string): void {
    this.table.remove(peerId);
    if (this.#holds.ours(peerId)) return;
    this.#holds.toldUnneeded(peerId);
    this.io.send(peerId, { t: 'unneeded' });
    if (this.#holds.unneededByPeer(peerId)) this.io.release(peerId);
  }

  /**
   * A request from `path[0]` passed us: connect to it if it fills a place in our table without
   * evicting anyone. Kademlia learns contacts from the traffic it sees; without this, two halves of
   * a neighbourhood that joined through different nodes never hear of each other.
   */
  learn(path: readonly string[]): void {
    const origin = path[0]!;
    if (this.links.has(origin) || this.#connecting.has(origin)) return;
    const key = keyOf(origin);
    // Only for our neighbourhood: the shallow buckets fill from lookups, and most of their nodes are full.
    if (this.table.bucketOf(key) < this.table.depth - 2) return;
    const outcome = this.table.consider({ id: origin, key });
    if (outcome.added && !outcome.evicted) this.#connect(origin, path.slice(1).reverse());
  }

  /** Starts a connection attempt unless one is running or the budget for attempts is spent; true if it did. */
  #connect(peerId: string, via: string[] = []): boolean {
    if (peerId === this.table.selfId || this.links.has(peerId) || this.#connecting.has(peerId)) return false;
    if (this.#connecting.size >= this.options.maxConnecting) return false;
    this.#connecting.add(peerId);
    this.io.connect(peerId, via);
    return true;
  }

  /** Connects to the nodes a lookup found that the table would take; returns the attempts started. */
  #connectTo(result: LookupResult): number {
    let started = 0;
    for (const id of result.closest) {
      if (!this.links.has(id) && this.table.consider({ id, key: keyOf(id) }).added && this.#connect(id, result.routes.get(id))) started++;
    }
    return started;
  }

  #selfLookup(): void {
    this.#selfLookupRunning = true;
    this.find(this.table.selfId, (result) => {
      this.#selfLookupRunning = false;
      this.#connectTo(result);
      if (result.replies === 0 || this.#joined) return;
      this.#joined = true;
      this.#refreshBuckets(this.find);
      this.onJoined();
    });
  }

  /** Looks up a key in each bucket due for it (see {@link BucketRefresh}). */
  #refreshBuckets(find: Find): void {
    for (const { index, key } of this.#buckets.round(() => this.io.random(32))) {
      find(key, (result) => this.#buckets.found(index, this.#connectTo(result)));
    }
  }

  /** One refresh round: our own id and the buckets with room, looked up side by side. */
  #refresh(): void {
    // One count for the round itself, so that lookups that end at once cannot end it early.
    let running = 1;
    const done = (): void => {
      if (--running === 0) this.onRefresh(false);
    };
    const find: Find = (target, then) => {
      running++;
      this.find(target, (result) => {
        then(result);
        done();
      });
    };
    this.onRefresh(true);
    find(this.table.selfId, (result) => this.#connectTo(result));
    this.#refreshBuckets(find);
    done();
  }

  #schedule(): void {
    if (this.#stopped) return;
    const jitter = 0.75 + (this.io.random(1)[0]! / 255) * 0.5;
    this.#stopTimer = this.io.setTimer((this.#joined ? this.options.refreshMs : JOIN_RETRY_MS) * jitter, () => {
      if (this.links.size === 0) this.io.bootstrap();
      else if (!this.#joined) {
        if (!this.#selfLookupRunning) this.#selfLookup();
      } else this.#refresh();
      this.#schedule();
    });
  }
}
