/** Virtual time for the simulator: events run in time order (then in the order they were scheduled). */
interface Event {
  at: number;
  seq: number;
  run: () => void;
  cancelled: boolean;
}

/**
 * A binary-heap event queue with a virtual clock. Nothing waits on real time, so 10,000 nodes
 * exchanging millions of messages run in seconds and every run with the same seed is identical.
 */
export class Scheduler {
  #now = 0;
  #seq = 0;
  readonly #heap: Event[] = [];
  /** Events run so far. */
  ran = 0;

  now(): number {
    return this.#now;
  }

  /** Runs `run` after `delayMs` of virtual time; returns a function that cancels it. */
  at(delayMs: number, run: () => void): () => void {
    const event: Event = { at: this.#now + Math.max(0, delayMs), seq: this.#seq++, run, cancelled: false };
    this.#push(event);
    return () => {
      event.cancelled = true;
    };
  }

  /** Runs events until the queue is empty or the clock would pass `until`. */
  runUntil(until: number): void {
    while (this.#heap.length > 0 && this.#heap[0]!.at <= until) {
      const event = this.#pop();
      this.#now = event.at;
      if (event.cancelled) continue;
      this.ran++;
      event.run();
    }
    this.#now = Math.max(this.#now, until);
  }

  #less(a: Event, b: Event): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(event: Event): void {
    const heap = this.#heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  #pop(): Event {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && this.#less(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && this.#less(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  }
}
