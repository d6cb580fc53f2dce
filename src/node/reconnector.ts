/**
 * Re-establishes connections that were lost rather than closed: after `peer-lost`, or an ICE failure
 * or error on an open connection, it retries with exponential backoff and jitter within a time budget,
 * announcing each wait on `peerEvents$` (`reconnecting`) and showing the peer as `reconnecting` in
 * `peers$`. A close either side asked for (`disconnect()`, the peer's end of stream) is never undone.
 */
import { backoffDelay, type BackoffOptions } from '../machines/signaling.machine.js';
import type { CloseReason } from '../machines/peerConnection.machine.js';
import { unref } from '../timers.js';
import type { PeerBook } from './peerBook.js';
import type { PeerEvent } from './types.js';

/** How lost connections are re-established. */
export interface ReconnectOptions extends Partial<BackoffOptions> {
  /** Give up once this long has passed since the connection was lost; default 60 000 ms. */
  budgetMs?: number;
}

export const DEFAULT_RECONNECT: Required<ReconnectOptions> = { initialMs: 500, maxMs: 10_000, jitter: 0.3, budgetMs: 60_000 };

/** The state `peers$` shows for a lost connection waiting for its next attempt. */
export const RECONNECTING = 'reconnecting';

const LOST: ReadonlySet<CloseReason> = new Set(['peer-lost', 'ice-failed', 'error']);

/** Whether a close means the connection was lost (worth re-establishing) rather than ended on purpose. */
export function wasLost(event: PeerEvent): boolean {
  return event.type === 'closed' && event.wasConnected && LOST.has(event.reason);
}

/**
 * Watches a {@link PeerBook}'s events and queues new attempts for lost connections.
 *
 * @example
 * ```ts
 * const reconnector = new Reconnector(book, { budgetMs: 30_000 });
 * // on disconnect(id): reconnector.cancel(id); on stop(): reconnector.stop();
 * ```
 */
export class Reconnector {
  readonly #book: PeerBook;
  readonly #options: Required<ReconnectOptions>;
  readonly #pending = new Map<string, { attempt: number; since: number; timer?: NodeJS.Timeout }>();
  #stopped = false;

  constructor(book: PeerBook, options: ReconnectOptions) {
    this.#book = book;
    this.#options = { ...DEFAULT_RECONNECT, ...options };
    // A microtask later, so every subscriber sees the close before the reconnecting that follows it.
    book.peerEvents$.subscribe((event) => queueMicrotask(() => this.#observe(event)));
  }

  /** Stops retrying `nodeId` (the user closed it). */
  cancel(nodeId: string): void {
    clearTimeout(this.#pending.get(nodeId)?.timer);
    this.#pending.delete(nodeId);
  }

  /** Starts the next attempt for `nodeId` now, if one is waiting (the user asked to connect). */
  hurry(nodeId: string): void {
    const pending = this.#pending.get(nodeId);
    if (!pending?.timer) return;
    clearTimeout(pending.timer);
    pending.timer = undefined;
    this.#attempt(nodeId);
  }

  /** Cancels every retry; the node is stopping. */
  stop(): void {
    this.#stopped = true;
    for (const nodeId of [...this.#pending.keys()]) this.cancel(nodeId);
  }

  #observe(event: PeerEvent): void {
    if (this.#stopped) return;
    if (event.type === 'connected') return this.cancel(event.id);
    if (event.type !== 'closed') return;
    if (this.#pending.has(event.id)) return this.#schedule(event.id); // one of our attempts failed
    if (wasLost(event)) {
      this.#pending.set(event.id, { attempt: 0, since: Date.now() });
      this.#schedule(event.id);
    }
  }

  #schedule(nodeId: string): void {
    const pending = this.#pending.get(nodeId)!;
    // Another attempt or connection for this peer is under way (e.g. the peer reconnected first).
    if (this.#book.state(nodeId) !== undefined) return;
    if (Date.now() - pending.since >= this.#options.budgetMs) {
      this.#pending.delete(nodeId);
      return;
    }
    pending.attempt++;
    const delayMs = backoffDelay(pending.attempt, this.#options);
    this.#book.hold(nodeId, RECONNECTING);
    this.#book.announce({ type: 'reconnecting', id: nodeId, attempt: pending.attempt, delayMs });
    pending.timer = setTimeout(() => this.#attempt(nodeId), delayMs);
    unref(pending.timer);
  }

  #attempt(nodeId: string): void {
    const pending = this.#pending.get(nodeId);
    if (pending) pending.timer = undefined;
    if (this.#book.state(nodeId) === RECONNECTING) this.#book.enqueue(nodeId);
  }
}
