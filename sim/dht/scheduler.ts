/** Virtual time for the simulator: events run in time order (then in the order they were scheduled). */

/** An event that can be cancelled; plain events are stored as their function alone. */
interface Timer {
  run: () => void;
  cancelled: boolean;
}

const INITIAL_CAPACITY = 1 << 12;

/**
 * A binary-heap event queue with a virtual clock. Nothing waits on real time, so 10,000 nodes
 * exchanging millions of messages run in minutes and every run with the same seed is identical.
 *
 * The heap keeps times and sequence numbers in typed arrays beside the events: a 10,000-node run
 * holds ~100,000 pending events, and comparing through event objects scattered over a large heap
 * cost more than the events themselves. Most events (message deliveries) cannot be cancelled and
 * are scheduled with {@link post}, which allocates nothing besides the caller's closure.
 */
export class Scheduler {
  #now = 0;
  #seq = 0;
  #size = 0;
  #times = new Float64Array(INITIAL_CAPACITY);
  #seqs = new Float64Array(INITIAL_CAPACITY);
  #events: Array<(() => void) | Timer | undefined> = new Array(INITIAL_CAPACITY);
  /** Events run so far. */
  ran = 0;

  now(): number {
    return this.#now;
  }

  /** Events waiting, cancelled ones included. */
  get pending(): number {
    return this.#size;
  }

  /** Runs `run` after `delayMs` of virtual time; returns a function that cancels it. */
  at(delayMs: number, run: () => void): () => void {
    const timer: Timer = { run, cancelled: false };
    this.#push(this.#now + Math.max(0, delayMs), timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Runs `run` after `delayMs` of virtual time, for events nobody cancels. */
  post(delayMs: number, run: () => void): void {
    this.#push(this.#now + Math.max(0, delayMs), run);
  }

  /** Runs events until the queue is empty or the clock would pass `until`. */
  runUntil(until: number): void {
    while (this.#size > 0 && this.#times[0]! <= until) {
      this.#now = this.#times[0]!;
      const event = this.#pop();
      if (typeof event === 'function') {
        this.ran++;
        event();
      } else if (!event.cancelled) {
        this.ran++;
        event.run();
      }
    }
    this.#now = Math.max(this.#now, until);
  }

  #push(at: number, event: (() => void) | Timer): void {
    if (this.#size === this.#times.length) this.#grow();
    const times = this.#times;
    const seqs = this.#seqs;
    const events = this.#events;
    const seq = this.#seq++;
    // Sift up with a hole: parents move down until the new event's place is found.
    let i = this.#size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = times[parent]!;
      if (pt < at || (pt === at && seqs[parent]! < seq)) break;
      times[i] = pt;
      seqs[i] = seqs[parent]!;
      events[i] = events[parent];
      i = parent;
    }
    times[i] = at;
    seqs[i] = seq;
    events[i] = event;
  }

  #pop(): (() => void) | Timer {
    const times = this.#times;
    const seqs = this.#seqs;
    const events = this.#events;
    const top = events[0]!;
    const size = --this.#size;
    const at = times[size]!;
    const seq = seqs[size]!;
    const last = events[size]!;
    events[size] = undefined;
    // Sift the last event down from the root, with a hole.
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      const right = child + 1;
      if (right < size && (times[right]! < times[child]! || (times[right] === times[child] && seqs[right]! < seqs[child]!))) child = right;
      const ct = times[child]!;
      if (at < ct || (at === ct && seq < seqs[child]!)) break;
      times[i] = ct;
      seqs[i] = seqs[child]!;
      events[i] = events[child];
      i = child;
    }
    if (size > 0) {
      times[i] = at;
      seqs[i] = seq;
      events[i] = last;
    }
    return top;
  }

  #grow(): void {
    const times = new Float64Array(this.#times.length * 2);
    const seqs = new Float64Array(this.#seqs.length * 2);
    times.set(this.#times);
    seqs.set(this.#seqs);
    this.#times = times;
    this.#seqs = seqs;
    this.#events.length = times.length;
  }
}
