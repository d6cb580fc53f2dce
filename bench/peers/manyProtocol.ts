/**
 * What bench/manyPeers.ts and its child processes (manyHub.ts, manyFar.ts) say to each other over
 * the IPC channel: requests carry an `id`, every request gets exactly one reply with that id.
 */
import { readdirSync, readFileSync } from 'node:fs';

export type HubRequest =
  /** Connect to all `ids`, at most `window` attempts in flight. */
  | { id: number; cmd: 'connect'; ids: string[]; window: number }
  /** Connect to one id, alone (the "last one"). */
  | { id: number; cmd: 'connectOne'; peer: string }
  | { id: number; cmd: 'disconnect'; peer: string }
  /** Collect garbage, settle, and report memory, fds and threads. */
  | { id: number; cmd: 'measure' }
  /** Reply once `total` bytes have arrived since the hub started (or after `timeoutMs`). */
  | { id: number; cmd: 'receive'; total: number; timeoutMs: number }
  | { id: number; cmd: 'exit' };

export type FarRequest =
  /** Each node of `from` (those held here) sends `bytesPerNode` to `to` in messages of `messageSize`, all at once. */
  | { id: number; cmd: 'send'; from: string[]; to: string; bytesPerNode: number; messageSize: number }
  | { id: number; cmd: 'measure' }
  | { id: number; cmd: 'exit' };

export interface Usage {
  rssBytes: number;
  fds: number;
  threads: number;
  /** Peer connections that closed after connecting, since the process started: the ids on the other side. */
  dropped: string[];
}

/** Sent once, unasked, when a child is ready: its node ids. */
export interface Ready {
  ready: true;
  ids: string[];
  usage: Usage;
}

export interface ConnectResult {
  /** Setup time of each attempt, call to resolve, in order of completion (failures excluded). */
  setupMs: number[];
  /** Most file descriptors the hub held while connecting (sampled every 50 ms). */
  peakFds: number;
  /** The ids that connected. */
  connected: string[];
  totalMs: number;
  errors: string[];
}

/** CPU time (user + system) this process spent, in ms, since `since` (a `process.cpuUsage()` reading). */
export function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

export interface ReceiveResult {
  /** CPU the hub process used between the request and the last byte. */
  cpuMs: number;
  /** `performance.timeOrigin + performance.now()` when the last expected byte arrived (or the timeout hit). */
  doneAt: number;
  /** Bytes received since the hub started. */
  total: number;
  /** For each peer that sent during this request: ms from the request to its last byte, ascending. */
  perPeerMs: number[];
  complete: boolean;
}

export interface SendResult {
  /** CPU this far process used while sending. */
  cpuMs: number;
  /** When the first send started and the last resolved, on the absolute clock. */
  startedAt: number;
  doneAt: number;
  errors: string[];
}

/** UDP counters of the whole host (/proc/net/snmp): datagrams dropped for a full receive buffer, and in all. */
export function udpDrops(): { rcvbufErrors: number; inErrors: number } {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const [names, values] = lines.map((l) => l.split(/\s+/).slice(1));
  const get = (k: string): number => Number(values?.[names?.indexOf(k) ?? -1] ?? Number.NaN);
  return { rcvbufErrors: get('RcvbufErrors'), inErrors: get('InErrors') };
}

export function usage(dropped: string[]): Usage {
  const status = readFileSync('/proc/self/status', 'utf8');
  return {
    rssBytes: process.memoryUsage.rss(),
    fds: readdirSync('/proc/self/fd').length,
    threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN),
    dropped: [...dropped],
  };
}
