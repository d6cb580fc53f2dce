/**
 * The node's view of its peers: what `peers$` and `peerEvents$` show, the queue of outgoing attempts
 * waiting for a negotiation slot, peers waiting to reconnect, and the promise each `connectToNode`
 * waits on.
 */
import { BehaviorSubject, Observable, Subject, filter } from 'rxjs';
import type { DataPlane } from '../data/dataPlane.js';
import { P2PError } from '../errors.js';
import { ESTABLISHED_STATES, type PeerOutput } from '../machines/peerConnection.machine.js';
import { unref } from '../timers.js';
import type { RouteInfo } from '../webrtc/fingerprint.js';
import { closeError } from './errors.js';
import type { PeerEvent, PeerInfo } from './types.js';

/** One peer's latest state, as the supervisor's peer actor (or the queue) reported it. */
export interface PeerStatus {
  id: string;
  state: string;
  since: number;
  route?: RouteInfo;
  /** What the transport saw when the connection stalled (while recovering). */
  stall?: string;
  output?: PeerOutput;
  /** Why an outgoing attempt ended while still queued, before it had an actor. */
  error?: P2PError;
}

/** What the book asks of the supervisor to start and end attempts. */
export interface Negotiator {
  /** Why a queued attempt cannot start now (e.g. signaling failed), or undefined when it can. */
  refusal(nodeId: string): P2PError | undefined;
  /** Starts the attempt: its peer actor will report through {@link PeerBook.changed}. */
  connect(nodeId: string): void;
  /** Closes the peer actor of `nodeId`; with `force`, without flushing what was sent. */
  disconnect(nodeId: string, force: boolean): void;
}

export interface PeerBookOptions {
  /** Our own attempts negotiating at once; later ones wait in call order. */
  maxNegotiations: number;
  /** Where each connected peer's byte counters are read. */
  dataPlane: DataPlane;
  negotiator: Negotiator;
}

const PEERS_REFRESH_MS = 250;
const REPLACED_DETAIL = 'the peer offered a new session (it restarted, or reconnected first)';
/** The state `peers$` shows for an outgoing attempt waiting for a negotiation slot. */
export const QUEUED = 'queued';

/**
 * Bookkeeping for every live peer: negotiating, connected, closing, queued or waiting to reconnect.
 *
 * @example
 * ```ts
 * const book = new PeerBook({ maxNegotiations: 10, dataPlane, negotiator });
 * const connected = book.outcome(id, signal); // settles when the attempt connects or ends
 * book.enqueue(id);
 * ```
 */
export class PeerBook {
  /** Live peers (negotiating or connected); replays the current list to new subscribers. */
  readonly peers$: Observable<PeerInfo[]>;
  /** Every connection that opens, and every started attempt or connection that ends, with its reason. */
  readonly peerEvents$: Observable<PeerEvent>;

  readonly #maxNegotiations: number;
  readonly #dataPlane: DataPlane;
  readonly #negotiator: Negotiator;
  /** Outgoing attempts waiting for a negotiation slot, oldest first; each is also in #peers, as `queued`. */
  readonly #queued = new Set<string>();
  /** Outgoing attempts that left the queue, each holding a slot until it connects or ends. */
  readonly #negotiating = new Set<string>();
  /** Peers shown in a waiting state of their own (a reconnect's backoff), with no actor and not queued. */
  readonly #held = new Map<string, string>();
  readonly #peers = new Map<string, PeerStatus>();
  readonly #status = new Subject<PeerStatus>();
  readonly #events = new Subject<PeerEvent>();
  readonly #list = new BehaviorSubject<PeerInfo[]>([]);
  #refreshTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: PeerBookOptions) {
    this.#maxNegotiations = options.maxNegotiations;
    this.#dataPlane = options.dataPlane;
    this.#negotiator = options.negotiator;
    this.peers$ = this.#list.asObservable();
    this.peerEvents$ = this.#events.asObservable();
  }

  /** Live peers, queued attempts included. */
  get size(): number {
    return this.#peers.size;
  }

  /** The state of `nodeId`'s attempt or connection, if there is one. */
  state(nodeId: string): string | undefined {
    return this.#peers.get(nodeId)?.state;
  }

  /** Queues an outgoing attempt; it starts as soon as a negotiation slot is free. */
  enqueue(nodeId: string): void {
    this.#held.delete(nodeId);
    this.#queued.add(nodeId);
    this.changed({ id: nodeId, state: QUEUED, since: Date.now() });
    this.#startQueuedSoon();
  }

  /** Shows `nodeId` in `state` with no actor behind it, until it is enqueued, closed or gets an actor. */
  hold(nodeId: string, state: string): void {
    this.#held.set(nodeId, state);
    this.changed({ id: nodeId, state, since: Date.now() });
  }

  /** Reports an event that no actor's state change carries (e.g. `reconnecting`). */
  announce(event: PeerEvent): void {
    this.#events.next(event);
  }

  /** Ends the attempt or connection to `nodeId`: a queued or held attempt ends, an actor is closed. */
  close(nodeId: string, force = false): void {
    if (this.#queued.has(nodeId) || this.#held.has(nodeId)) {
      const error = new P2PError('ERR_PEER_CLOSED', `connection to ${nodeId.slice(0, 12)}… closed before it started`);
      this.changed({ id: nodeId, state: this.#peers.get(nodeId)!.state, since: Date.now(), error });
    } else {
      this.#negotiator.disconnect(nodeId, force);
    }
  }

  /** Closes every connected peer, flushing; resolves with how each ended. */
  closeConnected(): Promise<(PeerOutput | undefined)[]> {
    const ids = [...this.#peers.values()].filter((p) => ESTABLISHED_STATES.has(p.state)).map((p) => p.id);
    const ended = ids.map((id) => this.ended(id));
    for (const id of ids) this.close(id);
    return Promise.all(ended);
  }

  /**
   * Resolves with how `nodeId`'s actor ended; undefined if it ended before it had one, or the book
   * completed. Aborting `signal` stops watching (the promise then never settles).
   */
  ended(nodeId: string, signal?: AbortSignal): Promise<PeerOutput | undefined> {
    return new Promise((resolve) => {
      const sub = this.#status.pipe(filter((s) => s.id === nodeId && (s.output !== undefined || s.error !== undefined))).subscribe({
        next: (status) => {
          sub.unsubscribe();
          resolve(status.output);
        },
        complete: () => resolve(undefined),
      });
      signal?.addEventListener('abort', () => sub.unsubscribe(), { once: true });
    });
  }

  /**
   * Resolves when `nodeId` is next connected; rejects when its attempt or connection ends, or the book
   * completes. Aborting `signal` closes the attempt and rejects with the signal's reason.
   */
  outcome(nodeId: string, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        done();
        this.close(nodeId);
        reject(signal!.reason);
      };
      const sub = this.#status.pipe(filter((s) => s.id === nodeId)).subscribe({
        next: (status) => {
          if (status.error) reject(status.error);
          else if (status.output) reject(closeError(status.output));
          else if (status.state === 'connected') resolve();
          else return;
          done();
        },
        // The node stopped: its peer actors were stopped without reaching a final state.
        complete: () => reject(new P2PError('ERR_STOPPED', 'node stopped before the connection settled')),
      });
      const done = (): void => {
        sub.unsubscribe();
        signal?.removeEventListener('abort', onAbort);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Records a peer's new status and reports it on `peers$`, `peerEvents$` and to waiting outcomes. */
  changed(status: PeerStatus): void {
    const { id } = status;
    const previous = this.#peers.get(id)?.state;
    const wasConnected = previous !== undefined && (ESTABLISHED_STATES.has(previous) || previous === 'closing');
    const ended = status.output !== undefined || status.error !== undefined;
    // The actor adopted a new session the peer offered: for the user, that connection is over.
    if (wasConnected && status.state === 'answering') {
      this.#events.next({ type: 'closed', id, reason: 'replaced', detail: REPLACED_DETAIL, wasConnected });
    }
    if (ended) this.#peers.delete(id);
    else this.#peers.set(id, status);
    // An attempt also leaves the queue when the peer's own offer gave it an actor first: it joins that one.
    if (ended || status.state !== QUEUED) this.#queued.delete(id);
    if (ended || this.#held.get(id) !== status.state) this.#held.delete(id);
    this.#publish();
    this.#status.next(status);
    if (status.output) {
      const { reason, detail } = status.output;
      this.#events.next({ type: 'closed', id, reason, detail, wasConnected });
    } else if (status.state === 'connected') {
      this.#events.next({ type: 'connected', id, route: status.route });
    } else if (status.state === 'recovering') {
      this.#events.next({ type: 'recovering', id, detail: status.stall });
    }
    if ((ended || status.state === 'connected') && this.#negotiating.delete(id)) this.#startQueuedSoon();
  }

  /** Byte counters change with every message; publish them at most every 250 ms. */
  bytesChanged(): void {
    if (this.#refreshTimer || this.#stopped) return;
    this.#refreshTimer = setTimeout(() => {
      this.#refreshTimer = undefined;
      this.#publish();
    }, PEERS_REFRESH_MS);
    unref(this.#refreshTimer);
  }

  /** The peers right now (same data as the latest `peers$` value, with fresh byte counts). */
  list(): PeerInfo[] {
    this.#publish();
    return this.#list.getValue();
  }

  /** Starts no more queued attempts and publishes no more byte counts: the node is stopping. */
  stop(): void {
    this.#stopped = true;
  }

  /** Ends every stream: waiting outcomes reject with ERR_STOPPED, `peers$` ends on an empty list. */
  complete(): void {
    clearTimeout(this.#refreshTimer);
    this.#status.complete();
    this.#events.complete();
    this.#list.next([]);
    this.#list.complete();
  }

  /**
   * Starts queued attempts, oldest first, while fewer than `maxNegotiations` of ours negotiate. In a
   * microtask, so the supervisor is between events and its snapshot settled (peers that just ended gone).
   */
  #startQueuedSoon(): void {
    queueMicrotask(() => {
      for (const nodeId of this.#queued) {
        if (this.#stopped || this.#negotiating.size >= this.#maxNegotiations) return;
        this.#queued.delete(nodeId);
        this.#begin(nodeId);
      }
    });
  }

  /** Starts a queued attempt, unless the supervisor can no longer take it. */
  #begin(nodeId: string): void {
    const error = this.#negotiator.refusal(nodeId);
    if (error) return this.changed({ id: nodeId, state: QUEUED, since: Date.now(), error });
    this.#negotiating.add(nodeId);
    this.#negotiator.connect(nodeId);
  }

  #publish(): void {
    this.#list.next(
      [...this.#peers.values()].map(({ id, state, since, route }) => {
        const link = this.#dataPlane.get(id);
        return {
          id,
          state,
          since,
          route: route?.route,
          localAddress: route?.local,
          remoteAddress: route?.remote,
          rttMs: route?.rttMs,
          bytesIn: link?.bytesIn ?? 0,
          bytesOut: link?.bytesOut ?? 0,
          dropped: this.#dataPlane.dropped(id),
        };
      }),
    );
  }
}
