/**
 * Which k-buckets a refresh round looks into: every bucket with room, down to the deepest one in
 * use, except those whose recent refreshes found nobody to connect to, which back off.
 *
 * @module
 */
import { KEY_BITS, keyInBucket, keyOf } from './keyspace.js';
import type { RoutingTable } from './routingTable.js';

/** A bucket whose refreshes find nobody new waits up to 2^this rounds between them. */
const MAX_IDLE = 3;

/**
 * A bucket whose last refreshes found nobody to connect to waits 2, 4, then 8 rounds before the
 * next: a deep bucket holds every node there is in its part of the keyspace, and the self-lookup of
 * every round finds newcomers near us anyway. Refreshed every round, such buckets cost a large
 * network most of its upkeep traffic and found nothing.
 *
 * @example
 * ```ts
 * const refresh = new BucketRefresh(table);
 * for (const { index, key } of refresh.round(random32)) lookup(key, (found) => refresh.found(index, found));
 * ```
 */
export class BucketRefresh {
  /** Per bucket: refreshes in a row that found nobody to connect to (up to {@link MAX_IDLE}). */
  readonly #idle = new Uint8Array(KEY_BITS);
  /** Rounds so far. */
  #rounds = 0;

  constructor(private readonly table: RoutingTable) {}

  /** The next round: a random key (hex) in each bucket due for a lookup. `random` gives 32 random bytes. */
  round(random: () => Uint8Array): Array<{ index: number; key: string }> {
    this.#rounds++;
    const due: Array<{ index: number; key: string }> = [];
    for (let index = 0; index <= this.table.depth; index++) {
      const idle = this.#idle[index]!;
      if (idle > 0 && this.#rounds % (1 << idle) !== 0) continue;
      const key = Buffer.from(keyInBucket(this.table.selfKey, index, random())).toString('hex');
      // A full table takes a contact for a thin bucket only by evicting one from a much fuller bucket.
      if (this.table.consider({ id: key, key: keyOf(key) }).added) due.push({ index, key });
    }
    return due;
  }

  /** The lookup into bucket `index` led to `connections` new connection attempts. */
  found(index: number, connections: number): void {
    this.#idle[index] = connections > 0 ? 0 : Math.min(this.#idle[index]! + 1, MAX_IDLE);
  }

  /** A contact in bucket `index` went away: refresh it next round. */
  lost(index: number): void {
    this.#idle[index] = 0;
  }
}
