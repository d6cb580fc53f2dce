/**
 * Signals of a stream (one sender's session, docs/protocol.md §9) put back in sequence order, for a
 * carrier that may reorder them: through the overlay, a signal lost with a closing link comes again
 * by another route after the ones sent after it, and a receiver takes no envelope older than the
 * latest it took.
 *
 * @module
 */

/** How many signals are held at most. */
export interface SignalOrderLimits {
  /** Per stream: an offer or answer and its candidates are a few dozen. */
  perStream: number;
  /** Streams with signals held at once. */
  streams: number;
}

/**
 * Signals that came ahead of a gap in their stream, by stream and sequence number. It decides
 * nothing about time: its owner releases a stream's signals when the gap is not filled soon enough.
 *
 * @example
 * ```ts
 * const order = new SignalOrder<VerifiedSignal>({ perStream: 64, streams: 64 });
 * if (signal.seq > envelopes.nextSeq(from, session)) order.hold(stream, signal.seq, signal);
 * else handle(signal); // then: while ((next = order.take(stream, envelopes.nextSeq(from, session)))) handle(next);
 * ```
 */
export class SignalOrder<T> {
  readonly #held = new Map<string, Map<number, T>>();

  constructor(private readonly limits: SignalOrderLimits) {}

  /**
   * Holds `item`, number `seq` of `stream`, until its owner takes it: `first` when the stream held
   * nothing before (its owner starts waiting), `held` when it did, `full` when there is no room (the
   * item is not held, so its owner handles it out of order rather than lose it).
   */
  hold(stream: string, seq: number, item: T): 'first' | 'held' | 'full' {
    const held = this.#held.get(stream);
    if (held) {
      if (held.size >= this.limits.perStream && !held.has(seq)) return 'full';
      held.set(seq, item);
      return 'held';
    }
    if (this.#held.size >= this.limits.streams) return 'full';
    this.#held.set(stream, new Map([[seq, item]]));
    return 'first';
  }

  /** The item numbered `seq` of `stream`, no longer held; undefined if none is. */
  take(stream: string, seq: number): T | undefined {
    const held = this.#held.get(stream);
    const item = held?.get(seq);
    if (item === undefined) return undefined;
    held!.delete(seq);
    if (held!.size === 0) this.#held.delete(stream);
    return item;
  }

  /** Whether `stream` has items held. */
  holds(stream: string): boolean {
    return this.#held.has(stream);
  }

  /** Every item held for `stream`, lowest number first, no longer held. */
  release(stream: string): T[] {
    const held = this.#held.get(stream);
    this.#held.delete(stream);
    return held ? [...held].sort(([a], [b]) => a - b).map(([, item]) => item) : [];
  }

  /** Drops everything held. */
  clear(): void {
    this.#held.clear();
  }
}
