/**
 * What bench/signaling.ts says to its children over IPC (requests and replies by id, see
 * bench/child.ts): server hosts (signalingHost.ts) and client load processes (signalingLoad.ts).
 */

/**
 * Which server a child talks to or hosts: ours (Socket.IO, signed registration, acks), PeerJS's
 * (`peer`), bench/relay.ts (Socket.IO forwarding by socket id, nothing else), or a Mosquitto broker
 * (MQTT over WebSocket, as our node signals through one).
 */
export type Dialect = 'ours' | 'peerjs' | 'bare' | 'mqtt';

export interface HostConfig {
  dialect: Dialect;
  /** Ours only: join the cluster on this Redis. */
  redis?: string;
  serverId?: string;
  deadlineMs: number;
}

export interface HostReady {
  port: number;
}

export type HostRequest =
  /** Memory after full collections. */
  | { id: number; cmd: 'measure' }
  /** Memory after full collections, once it has stopped shrinking (at most about 30 s). */
  | { id: number; cmd: 'settle' }
  /** CPU time used since the process started, in ms (no collection first, so a span's cost is its own). */
  | { id: number; cmd: 'cpu' }
  | { id: number; cmd: 'exit' };

/** A host's memory after two full collections. */
export interface HostMemory {
  rssBytes: number;
  heapUsedBytes: number;
}

export interface LoadConfig {
  dialect: Dialect;
  /** Server URLs (`http://127.0.0.1:port`); client `i` (global index) uses `urls[i % urls.length]`. */
  urls: string[];
  /** Global index of this process's first client; its clients are `first … first + count - 1`, `count` even. */
  first: number;
  count: number;
  /** Registrations in flight at once in this process. */
  handshakeWindow: number;
  deadlineMs: number;
}

export type RelayPlan =
  /** Sessions start at `messagesPerSecond / 6` per second: a fixed offered load, for latency. */
  | { mode: 'paced'; messagesPerSecond: number; warmupMs: number; durationMs: number }
  /** `window` sessions run at once, each message sent the moment the previous one arrives: for throughput. */
  | { mode: 'flat'; window: number; warmupMs: number; durationMs: number };

export type LoadRequest =
  /** Registers clients up to `share` (0–1) of this process's, continuing where the last call stopped. */
  | { id: number; cmd: 'register'; share: number }
  | ({ id: number; cmd: 'relay' } & RelayPlan)
  | { id: number; cmd: 'exit' };

export interface RegisterResult {
  registered: number;
  failed: number;
  /** The first few failure reasons. */
  failures: string[];
  /** When the last client of this process finished registering, ms since the epoch (sub-ms). */
  doneAt: number;
}

export interface RelayResult {
  /** Messages delivered, exactly as sent, to the right client and in session order, within the measured span. */
  delivered: number;
  /** Every message delivered by the call, warm-up and the sessions finishing after the span included. */
  total: number;
  measuredMs: number;
  /** Relay latency of delivered messages in the measured span, send to receipt (a sample of at most 50 000). */
  latencyMs: number[];
  /** Messages not delivered within 5 s (their sessions are abandoned). */
  lost: number;
  /** Deliveries that were not the text the session expected next. */
  unexpected: number;
  /** Refusals by code (ours acknowledges every signal; PeerJS never refuses). */
  refused: Record<string, number>;
  /** Paced mode: sessions that could not start because every pair was busy. */
  skipped: number;
  /** CPU this client process used in the measured span. */
  cpuMs: number;
}
