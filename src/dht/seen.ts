/**
 * The requests a node has seen lately and the next hops it sent each one to, so that parallel paths
 * of one request that meet at a node leave it over different links.
 *
 * @module
 */

/**
 * Request ids by first sight, bounded in number and in age. A request's paths all leave its origin
 * within two lookup timeouts and pass at most `MAX_HOPS` links, so a request seen a minute ago is
 * not seen again; forgetting it bounds what a node holds by its traffic of the last minutes, not
 * only by `limit` (which every node of a network of thousands reaches, holding thousands of ids).
 *
 * Ids live in two generations, the newer one started at most every `keepMs / 2`: an id is held at
 * least `keepMs / 2` after it was first seen, and dropped at the rotation after that, at O(1) cost
 * and with no timers.
 *
 * @example
 * ```ts
 * const seen = new SeenRequests(8192, 60_000, () => io.now());
 * const tried = seen.sight(rid);             // undefined: no next hop tried yet
 * if (!wasTried(tried, hopId)) seen.addTried(rid, hopId);
 * ```
 */
export class SeenRequests {
  #recent = new Map<string, Held>();
  #older = new Map<string, Held>();
  #rotatedAt: number;
  /** The id looked up or added last and the generation holding it: the hop tried next is usually its. */
  #lastRid: string | undefined;
  #lastIn: Map<string, Held> | undefined;

  constructor(
    /** Most ids held. */
    private readonly limit: number,
    /** Twice the least time an id is held. */
    private readonly keepMs: number,
    private readonly now: () => number,
  ) {
    this.#rotatedAt = now();
  }

  /** Ids held. */
  get size(): number {
    return this.#recent.size + this.#older.size;
  }

  /** Whether `rid` was seen, without noting it. */
  has(rid: string): boolean {
    return this.#find(rid) !== undefined;
  }

  /** Notes that `rid` passed us; returns the next hops it was sent to so far (see {@link wasTried}). */
  sight(rid: string): Tried {
    const held = this.#find(rid);
    if (held !== undefined) return held ?? undefined;
    this.#add(rid, null);
    return undefined;
  }

  /** Notes that `rid` was sent on to `id`. */
  addTried(rid: string, id: string): void {
    const held = this.#find(rid);
    if (held === undefined) return this.#add(rid, id);
    if (held === null) this.#lastIn!.set(rid, id);
    else if (typeof held === 'string') this.#lastIn!.set(rid, new Set([held, id]));
    else held.add(id);
  }

  /** The next hops `rid` was sent to, as a set to add to (the id is noted as seen if it was not). */
  tried(rid: string): Set<string> {
    const held = this.#find(rid);
    if (typeof held === 'object' && held !== null) return held;
    const set = new Set<string>(typeof held === 'string' ? [held] : []);
    if (held === undefined) this.#add(rid, set);
    else this.#lastIn!.set(rid, set);
    return set;
  }

  /** What is held for `rid` (undefined: nothing), leaving its generation in #lastIn. */
  #find(rid: string): Held | undefined {
    if (rid === this.#lastRid) return this.#lastIn!.get(rid);
    let held = this.#recent.get(rid);
    if (held !== undefined) this.#lastIn = this.#recent;
    else {
      held = this.#older.get(rid);
      if (held === undefined) return undefined;
      this.#lastIn = this.#older;
    }
    this.#lastRid = rid;
    return held;
  }

  #add(rid: string, held: Held): void {
    const now = this.now();
    if (now - this.#rotatedAt >= this.keepMs / 2) {
      // Everything in the older generation was seen before the last rotation, keepMs / 2 ago.
      this.#older = this.#recent;
      this.#recent = new Map();
      this.#rotatedAt = now;
    }
    this.#recent.set(rid, held);
    this.#lastRid = rid;
    this.#lastIn = this.#recent;
    if (this.size <= this.limit) return;
    const oldest = this.#older.size > 0 ? this.#older : this.#recent;
    oldest.delete(oldest.keys().next().value as string);
  }
}

/** What a generation holds for an id: null until a next hop is tried. */
type Held = null | string | Set<string>;

/**
 * The next hops a request was sent to: none, one, or several. Most requests pass a node once and
 * leave it once, so a set is made only for a second hop.
 */
export type Tried = undefined | string | Set<string>;

/** Whether `tried` holds `id`. */
export function wasTried(tried: Tried, id: string): boolean {
  return tried === id || (typeof tried === 'object' && tried.has(id));
}
