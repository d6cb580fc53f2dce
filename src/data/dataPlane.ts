import { Subject } from 'rxjs';
import type { PeerLink } from './link.js';

/** A message as it arrives from a peer. */
export interface DataMessage {
  from: string;
  data: string | Uint8Array;
}

/**
 * The data plane of one node: the verified link of every connected peer and the stream of what they
 * send. Data bypasses the statecharts on purpose: the machines decide *whether* a peer may carry data,
 * and bulk traffic then costs no event dispatch.
 */
export class DataPlane {
  readonly #links = new Map<string, PeerLink>();
  readonly #closing = new Set<Promise<void>>();
  readonly messages = new Subject<DataMessage>();
  /** One timer drives every link's heartbeat, and runs only while there are links. */
  #ticker: NodeJS.Timeout | undefined;

  attach(peerId: string, link: PeerLink): void {
    this.#links.get(peerId)?.close();
    this.#links.set(peerId, link);
    this.#ticker ??= setInterval(() => this.#tick(), link.tickEveryMs).unref();
  }

  /** Removes `link` if it is still the one registered for `peerId` (a replacement may have taken its place). */
  detach(peerId: string, link: PeerLink): void {
    if (this.#links.get(peerId) === link) this.#links.delete(peerId);
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

  deliver(from: string, data: string | Uint8Array): void {
    this.messages.next({ from, data });
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
