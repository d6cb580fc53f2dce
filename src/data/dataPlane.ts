import { Observable, Subject } from 'rxjs';
import { unref } from '../timers.js';
import type { PeerLink } from './link.js';

/** A message as it arrives from a peer. */
export interface DataMessage {
  from: string;
  data: string | Uint8Array;
}

/** How much a node keeps of what arrives while nobody subscribes to `data$`. */
export interface UnreadLimits {
  /** Default 1000. */
  messages?: number;
  /** Payload bytes, default 16 MiB. */
  bytes?: number;
}

export const DEFAULT_UNREAD: Required<UnreadLimits> = { messages: 1000, bytes: 16 * 1024 * 1024 };

/** What a DHT running over the data plane hears of its links. */
export interface LinkWatcher {
  /** A verified link opened; `address` is the remote IP of its route, when known. */
  attached(peerId: string, address: string | undefined): void;
  detached(peerId: string): void;
  /** A DHT record arrived. */
  dht(peerId: string, payload: Uint8Array): void;
}

/**
 * The data plane of one node: the verified link of every connected peer and the stream of what they
 * send. Data bypasses the statecharts on purpose: the machines decide *whether* a peer may carry data,
 * and bulk traffic then costs no event dispatch.
 *
 * Messages that arrive while nobody subscribes to {@link data$} are kept, within `unread` limits, and
 * replayed in order to the next subscriber; beyond the limits they are dropped and counted per peer.
 *
 * @example
 * ```ts
 * const plane = new DataPlane({ onDeliver: () => countBytes() });
 * plane.deliver(peerId, 'early'); // kept: nobody reads yet
 * plane.data$.subscribe(({ from, data }) => console.log(from, data)); // gets 'early' first
 * ```
 */
export class DataPlane {
  readonly #links = new Map<string, PeerLink>();
  readonly #closing = new Set<Promise<void>>();
  readonly #messages = new Subject<DataMessage>();
  readonly #limits: Required<UnreadLimits>;
  readonly #onDeliver: (from: string) => void;
  #readers = 0;
  #unread: DataMessage[] = [];
  #unreadBytes = 0;
  readonly #dropped = new Map<string, number>();
  /** One timer drives every link's heartbeat, and runs only while there are links. */
  #ticker: NodeJS.Timeout | undefined;
  /** Every message from every peer; the first subscriber after a quiet spell gets what arrived meanwhile. */
  readonly data$: Observable<DataMessage>;
  #watcher: LinkWatcher | undefined;
  #files: ((peerId: string, payload: Uint8Array) => boolean) | undefined;

  constructor(options: { unread?: UnreadLimits; onDeliver?: (from: string) => void } = {}) {
    this.#limits = { ...DEFAULT_UNREAD, ...options.unread };
    this.#onDeliver = options.onDeliver ?? (() => {});
    this.data$ = new Observable<DataMessage>((subscriber) => {
      this.#readers++;
      const subscription = this.#messages.subscribe(subscriber);
      const backlog = this.#unread;
      this.#unread = [];
      this.#unreadBytes = 0;
      for (const message of backlog) subscriber.next(message);
      return () => {
        this.#readers--;
        subscription.unsubscribe();
      };
    });
  }

  /** Registers a peer's verified link; `address` is the remote IP of its route, when known. */
  attach(peerId: string, link: PeerLink, address?: string): void {
    const replaced = this.#links.get(peerId);
    replaced?.close();
    this.#links.set(peerId, link);
    this.#ticker ??= unref(setInterval(() => this.#tick(), link.tickEveryMs));
    const files = this.#files;
    if (files) link.onFile = (payload) => files(peerId, payload);
    const watcher = this.#watcher;
    if (!watcher) return;
    link.onDht = (payload) => watcher.dht(peerId, payload);
    if (replaced) watcher.detached(peerId);
    watcher.attached(peerId, address);
  }

  /**
   * Tells `watcher` of every link that opens or closes from now on, and of those open already, and
   * hands it their DHT records; returns a function that stops it.
   */
  watch(watcher: LinkWatcher): () => void {
    this.#watcher = watcher;
    for (const [peerId, link] of this.#links) {
      link.onDht = (payload) => watcher.dht(peerId, payload);
      watcher.attached(peerId, undefined);
    }
    return () => {
      if (this.#watcher !== watcher) return;
      this.#watcher = undefined;
      for (const link of this.#links.values()) link.onDht = undefined;
    };
  }

  /** Hands every link's file-transfer messages, now and from now on, to `handler` (docs/protocol.md §18). */
  takeFiles(handler: (peerId: string, payload: Uint8Array) => boolean): void {
    this.#files = handler;
    for (const [peerId, link] of this.#links) link.onFile = (payload) => handler(peerId, payload);
  }

  /** Removes `link` if it is still the one registered for `peerId` (a replacement may have taken its place). */
  detach(peerId: string, link: PeerLink): void {
    if (this.#links.get(peerId) === link) {
      this.#links.delete(peerId);
      this.#watcher?.detached(peerId);
    }
    link.close();
    if (this.#links.size === 0) {
      clearInterval(this.#ticker);
      this.#ticker = undefined;
    }
  }

  #tick(): void {
    for (const link of this.#links.values()) link.tick();
  }

  get(peerId: string): PeerLink | undefined {
    return this.#links.get(peerId);
  }

  peerIds(): string[] {
    return [...this.#links.keys()];
  }

  /** Hands a message to `data$`, or keeps it for the next subscriber; false if it had to be dropped. */
  deliver(from: string, data: string | Uint8Array): boolean {
    this.#onDeliver(from);
    if (this.#readers > 0) {
      this.#messages.next({ from, data });
      return true;
    }
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (this.#unread.length >= this.#limits.messages || this.#unreadBytes + size > this.#limits.bytes) {
      this.#dropped.set(from, (this.#dropped.get(from) ?? 0) + 1);
      return false;
    }
    // A view into a channel message would pin all of it while it waits: keep a copy of its own.
    const pins = typeof data !== 'string' && data.byteLength !== data.buffer.byteLength;
    this.#unread.push({ from, data: pins ? new Uint8Array(data) : data });
    this.#unreadBytes += size;
    return true;
  }

  /** Messages from `peerId` dropped because nobody read `data$` and the unread limits were full. */
  dropped(peerId: string): number {
    return this.#dropped.get(peerId) ?? 0;
  }

  /** Ends `data$`; what was never read is released. */
  complete(): void {
    this.#unread = [];
    this.#unreadBytes = 0;
    this.#messages.complete();
  }

  /** Registers a transport shutdown still in progress, so that {@link drained} can wait for it. */
  trackClose(done: Promise<void>): void {
    this.#closing.add(done);
    void done.finally(() => this.#closing.delete(done));
  }

  /** Resolves once every tracked shutdown has finished. */
  async drained(): Promise<void> {
    while (this.#closing.size > 0) await Promise.allSettled([...this.#closing]);
  }
}
