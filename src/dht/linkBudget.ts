/**
 * The DHT's connection budget: which new links a node accepts, and which links it sheds when it
 * holds more than the budget. Links an application uses stay, and do not count.
 *
 * @module
 */
import { keyOf } from './keyspace.js';
import type { LinkHolds } from './linkHolds.js';
import type { Links } from './links.js';
import type { RoutingTable } from './routingTable.js';

/**
 * How long a new link is safe from being closed to keep within budget: its peer says `needed` in
 * its first record if its application opened the link, and closing such a link would break the
 * peer's connection. The record takes a round trip, or seconds on a host under heavy load.
 */
export const TRIM_GRACE_MS = 5000;

/** What the budget needs from the node around it. */
export interface LinkBudgetIo {
  release(peerId: string): void;
  now(): number;
  setTimer(ms: number, fn: () => void): () => void;
}

/**
 * @example
 * ```ts
 * const budget = new LinkBudget(links, table, holds, io, 64);
 * if (!budget.accepts(peerId, address)) reject(offer);
 * budget.opened(); // after every link that opens
 * ```
 */
export class LinkBudget {
  #trimTimer: (() => void) | undefined;
  #stopped = false;

  constructor(
    private readonly links: Links,
    private readonly table: RoutingTable,
    private readonly holds: LinkHolds,
    private readonly io: LinkBudgetIo,
    private readonly maxConnections: number,
  ) {}

  /**
   * Whether a connection from `peerId` is welcome. The budget is hard; its last k places are kept
   * for peers that fit our own table, so links other nodes hold cannot crowd out our contacts.
   */
  accepts(peerId: string, address?: string): boolean {
    const links = this.#dhtLinks();
    if (links < this.maxConnections - this.table.options.k) return true;
    const outcome = this.table.consider({ id: peerId, key: keyOf(peerId), address });
    return outcome.added && (links < this.maxConnections || outcome.evicted !== undefined || this.#spareLink() !== undefined);
  }

  /** A link opened: over budget, links nobody holds are shed soon (see {@link #trimSoon}). */
  opened(): void {
    if (this.#dhtLinks() > this.maxConnections) this.#trimSoon();
  }

  stop(): void {
    this.#stopped = true;
    this.#trimTimer?.();
  }

  /** A link we do not hold as a contact and no application uses, which can go to make room for one we would. */
  #spareLink(): string | undefined {
    for (const id of this.links.keys()) if (!this.table.has(id) && !this.holds.appHeld(id)) return id;
    return undefined;
  }

  /**
   * Over budget: soon, closes links nobody holds, oldest first and as many as the excess, among
   * those open for {@link TRIM_GRACE_MS}; checks again later if younger ones were spared.
   */
  #trimSoon(): void {
    if (this.#trimTimer || this.#stopped) return;
    this.#trimTimer = this.io.setTimer(TRIM_GRACE_MS, () => {
      this.#trimTimer = undefined;
      const now = this.io.now();
      let excess = this.#dhtLinks() - this.maxConnections;
      for (const id of [...this.links.keys()]) {
        if (excess <= 0) return;
        if (this.table.has(id) || this.holds.appHeld(id)) continue;
        if (this.holds.age(id, now) < TRIM_GRACE_MS) return this.#trimSoon();
        this.io.release(id);
        excess--;
      }
    });
  }

  /** Links that count against the connection budget: those no application uses. */
  #dhtLinks(): number {
    if (!this.holds.any) return this.links.size;
    let count = 0;
    for (const id of this.links.keys()) if (!this.holds.appHeld(id)) count++;
    return count;
  }
}
