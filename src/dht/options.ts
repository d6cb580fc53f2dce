/**
 * What a DHT node is configured with, and what it needs from the node around it.
 *
 * @module
 */
import type { DhtMessage } from './messages.js';
import type { RecordStoreOptions } from './recordStore.js';
import type { RoutingTableOptions } from './routingTable.js';

/** What the engine needs from the node around it. */
export interface DhtIo {
  /** Sends a message over the open link to `peerId`. */
  send(peerId: string, message: DhtMessage): void;
  /**
   * Opens a connection to `peerId`, signaled through the overlay along `via` (see
   * `Dht.routeSignal`) or through the server; the node then calls linkUp or connectFailed.
   */
  connect(peerId: string, via: string[]): void;
  /** Neither end needs the link to `peerId` for the DHT: the node closes it unless it carries other traffic. */
  release(peerId: string): void;
  /** Whether the application uses the link to `peerId`: the DHT then never closes it, and tells the peer so (`needed`). */
  inUse?(peerId: string): boolean;
  /** The node has no link left: ask the signaling server for peers to join through again. */
  bootstrap(): void;
  /** A signaling envelope routed through the overlay reached us from `origin`; `via` routes signals back. */
  signal(origin: string, envelope: unknown, via: string[]): void;
  now(): number;
  /** Runs `fn` after `ms`; returns a function that cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
  random(bytes: number): Uint8Array;
}

export interface DhtOptions extends RoutingTableOptions {
  /** Links in all, contacts or not: the connection budget. Default 64. */
  maxConnections?: number;
  /** Parallel paths per lookup. Default 4. */
  alpha?: number;
  /** Nodes that store each record. Default 8. */
  replication?: number;
  /** A lookup with no reply by then is sent once more over other paths, and ends after twice this. Default 3000 ms. */
  lookupTimeoutMs?: number;
  /** Buckets are refreshed this often (± 25%). Default 60 s. */
  refreshMs?: number;
  /** Requests and replication messages accepted from one link. Default 100/s, bursts of 300. */
  rate?: { perSecond: number; burst: number };
  store?: Omit<RecordStoreOptions, 'now'>;
}

/** The defaults of {@link DhtOptions}. */
export const DEFAULT_DHT = {
  maxConnections: 64,
  alpha: 4,
  replication: 8,
  lookupTimeoutMs: 3000,
  refreshMs: 60_000,
  rate: { perSecond: 100, burst: 300 },
};
