/**
 * Whether a peer is still there, judged from the data channel alone: any bytes from it count as a
 * sign of life, and a link that has sent nothing for an interval sends a heartbeat, so two idle peers
 * still hear each other. A frozen or killed peer falls silent and is declared lost after
 * `missedBeats` intervals, long before ICE consent freshness (~15 s) would notice. Halfway there the
 * link is reported stalled, so that the owner can try an ICE restart while there is time for one.
 */

/** Heartbeat settings of a link. */
export interface HeartbeatOptions {
  /** A link that has sent nothing for this long sends a heartbeat; default 1000 ms. */
  intervalMs?: number;
  /** The peer is lost after this many intervals without a byte from it; default 4. */
  missedBeats?: number;
}

export const DEFAULT_HEARTBEAT: Required<HeartbeatOptions> = { intervalMs: 1000, missedBeats: 4 };

/**
 * What {@link Liveness.check} found: send a heartbeat now; the peer just missed a beat (`silent`); it
 * missed half the beats that make it lost (`stalledAfterMs`); it is lost (`lostAfterMs`). Each of the
 * last three is reported once per silence.
 */
export interface LivenessVerdict {
  beat: boolean;
  silent?: true;
  stalledAfterMs?: number;
  lostAfterMs?: number;
}

/**
 * The clock arithmetic of a heartbeat, without timers: the link reports what it sent and heard, and a
 * periodic check asks what to do.
 *
 * @example
 * ```ts
 * const liveness = new Liveness({ intervalMs: 1000, missedBeats: 4 }, performance.now());
 * liveness.heard(performance.now()); // on every chunk received
 * const { beat, lostAfterMs } = liveness.check(performance.now()); // every quarter interval
 * ```
 */
export class Liveness {
  readonly #intervalMs: number;
  readonly #stallMs: number;
  readonly #timeoutMs: number;
  #lastHeard: number;
  #lastSent: number;
  #silent = false;
  #stalled = false;
  #lost = false;

  constructor(options: HeartbeatOptions, now: number) {
    const { intervalMs, missedBeats } = { ...DEFAULT_HEARTBEAT, ...options };
    this.#intervalMs = intervalMs;
    this.#timeoutMs = intervalMs * missedBeats;
    this.#stallMs = intervalMs * Math.floor(missedBeats / 2);
    this.#lastHeard = now;
    this.#lastSent = now;
  }

  /** How often {@link check} should run so that detection stays within a quarter interval of the timeout. */
  get checkEveryMs(): number {
    return this.#intervalMs / 4;
  }

  /** Something arrived from the peer (or other evidence says it is there): a new silence starts afresh. */
  heard(now: number): void {
    this.#lastHeard = now;
    this.#silent = false;
    this.#stalled = false;
    this.#lost = false;
  }

  /** Whether the peer has missed a heartbeat: nothing heard for one and a half intervals. */
  isSilent(now: number): boolean {
    return now - this.#lastHeard > 1.5 * this.#intervalMs;
  }

  sent(now: number): void {
    this.#lastSent = now;
  }

  /** A heartbeat is due once nothing was sent for an interval; a missed beat, the stall and the loss are reported once. */
  check(now: number): LivenessVerdict {
    const beat = now - this.#lastSent >= this.#intervalMs;
    const silence = now - this.#lastHeard;
    const verdict: LivenessVerdict = { beat };
    if (!this.#silent && silence >= this.#intervalMs) {
      this.#silent = true;
      verdict.silent = true;
    }
    if (!this.#stalled && silence >= this.#stallMs) {
      this.#stalled = true;
      verdict.stalledAfterMs = Math.round(silence);
    }
    if (!this.#lost && silence >= this.#timeoutMs) {
      this.#lost = true;
      verdict.lostAfterMs = Math.round(silence);
    }
    return verdict;
  }
}
