/** What `P2PNode.dhtInfo()` reports, for `/dht` and dashboards. */
import type { ActorRefFrom } from 'xstate';
import type { dhtMachine } from '../machines/dht.machine.js';
import type { Overlay } from '../services/overlay.js';

export interface DhtInfo {
  /** The DHT machine's state: `joining`, `ready` or `degraded`. */
  state: string;
  /** Whether a refresh round (`ready.refreshing`) is running. */
  refreshing: boolean;
  /** Nodes in the routing table. */
  contacts: number;
  /** Open links, contacts or not. */
  links: number;
  /** Contacts per non-empty k-bucket. */
  buckets: Array<{ index: number; contacts: number }>;
  /** Lookups this node started, requests it handled and forwarded, since it started. */
  lookups: number;
  requests: number;
  forwarded: number;
  /** Signals this node routed through the overlay and sent again, unacknowledged (see `Signals`). */
  signalsResent: number;
  /** Records this node stores for others. */
  stored: { topics: number; announcements: number; mutable: number };
  /** Topics this node has joined. */
  topics: string[];
}

/** A snapshot of the DHT's state and counters. */
export function dhtInfo(overlay: Overlay, ref: ActorRefFrom<typeof dhtMachine> | undefined, topics: string[]): DhtInfo {
  const { dht } = overlay;
  return {
    state: ref ? topState(ref.getSnapshot().value) : 'stopped',
    refreshing: ref?.getSnapshot().matches({ ready: 'refreshing' }) ?? false,
    contacts: dht.table.size,
    links: dht.links,
    buckets: dht.table.buckets(),
    lookups: dht.counters.lookups,
    requests: dht.counters.requests,
    forwarded: dht.counters.forwarded,
    signalsResent: dht.counters.signalsResent,
    stored: dht.store.size(),
    topics,
  };
}

/** The top-level state of a state value (`{ ready: 'idle' }` is `ready`). */
function topState(value: string | Record<string, unknown>): string {
  return typeof value === 'string' ? value : Object.keys(value)[0]!;
}
