/**
 * Which signals ask a revision-2 server for an acknowledgement (docs/protocol.md §6), and which
 * acknowledgement settles the signals that went without one.
 *
 * A server handles one connection's events in order, so the acknowledgement of a signal vouches for
 * every signal sent before it: they settle together. A signal asks when `every` signals have gone since
 * the last one that asked, or when that one is `intervalMs` old. Hence:
 * - with `every` at most half the pacer's in-flight bound, some signal in flight always asks, so the
 *   pacer never waits on signals no acknowledgement will settle;
 * - a connection that only looks open is still caught by the acknowledgement timeout of the next
 *   signal that asks, the first one after a quiet spell included.
 *
 * @example
 * ```ts
 * const window = new AckWindow(32, 5000);
 * const settle = window.add(done, Date.now());
 * if (settle) socket.emit('signal', request, () => settle());
 * else socket.emit('signal', request);
 * ```
 */
/**
 * Towards a revision-2 server, a signal asks for an acknowledgement after at most this many went
 * without one, or when the last ask is {@link ASK_INTERVAL_MS} old.
 */
export const MAX_UNASKED = 64;
export const ASK_INTERVAL_MS = 5_000;

/** The `every` of an {@link AckWindow} under a pacer that lets `maxInFlight` tasks await their answer at once. */
export function askEvery(maxInFlight: number): number {
  return Math.min(MAX_UNASKED, maxInFlight / 2);
}

export class AckWindow {
  #every: number;
  readonly #intervalMs: number;
  #sinceAsk = 0;
  #lastAskAt = Number.NEGATIVE_INFINITY;
  #sent = 0;
  #settled = 0;
  readonly #unsettled: { index: number; done: () => void }[] = [];

  /** `every`: 1 asks on every signal (a revision-1 server, which acknowledges only what asks). */
  constructor(every: number, intervalMs: number) {
    this.#every = Math.max(1, Math.floor(every));
    this.#intervalMs = intervalMs;
  }

  /** Signals since the last one that asked, at most, from now on. */
  retune(every: number): void {
    this.#every = Math.max(1, Math.floor(every));
  }

  /**
   * Registers the next signal; `ask` makes it ask whatever the count (a hello). Returns its `settle`
   * when it must ask for an acknowledgement (to run when the answer, or its timeout, arrives), else
   * undefined: its `done` then runs when a later signal's acknowledgement settles it.
   */
  add(done: () => void, now: number, ask = false): (() => void) | undefined {
    const index = ++this.#sent;
    this.#unsettled.push({ index, done });
    this.#sinceAsk++;
    if (!ask && this.#sinceAsk < this.#every && now - this.#lastAskAt < this.#intervalMs) return undefined;
    this.#sinceAsk = 0;
    this.#lastAskAt = now;
    return () => this.#settle(index);
  }

  /** Signals sent and not settled yet. */
  get unsettled(): number {
    return this.#unsettled.length;
  }

  #settle(index: number): void {
    // Answers may arrive out of order (a cluster answers a signal to another server later).
    if (index <= this.#settled) return;
    this.#settled = index;
    let n = 0;
    while (n < this.#unsettled.length && this.#unsettled[n]!.index <= index) n++;
    for (const { done } of this.#unsettled.splice(0, n)) done();
  }
}
