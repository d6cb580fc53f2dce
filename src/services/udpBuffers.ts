/**
 * The kernel's UDP receive buffers, which the WebRTC binding never enlarges: libwebrtc leaves its
 * sockets at `net.core.rmem_default` (208 KiB on most Linux systems), and SCTP bursts on a fast path
 * overflow it, so packets are dropped and sent again (docs/benchmarks.md §10 measures what it costs).
 * Like quic-go for its UDP sockets, a node says so once, with the fix.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from '../log.js';

/** The receive buffer below which a node warns: what §10 of the benchmarks measured against the default. */
export const RECOMMENDED_UDP_RECEIVE_BUFFER = 4 * 1024 * 1024;

/** The kernel's UDP receive-buffer settings in bytes, or undefined where they cannot be read (not Linux). */
export function udpReceiveBuffers(read: (path: string) => string = (path) => readFileSync(path, 'utf8')): { rmemDefault: number; rmemMax: number } | undefined {
  try {
    const rmemDefault = Number(read('/proc/sys/net/core/rmem_default'));
    const rmemMax = Number(read('/proc/sys/net/core/rmem_max'));
    return Number.isSafeInteger(rmemDefault) && Number.isSafeInteger(rmemMax) ? { rmemDefault, rmemMax } : undefined;
  } catch {
    return undefined;
  }
}

let warned = false;

/**
 * Warns once per process, through `logger`, when new UDP sockets get less than
 * {@link RECOMMENDED_UDP_RECEIVE_BUFFER}; returns whether it warned.
 *
 * @example
 * ```ts
 * warnOfSmallUdpBuffers(logger); // at most once per process
 * ```
 */
export function warnOfSmallUdpBuffers(logger: Logger, buffers = udpReceiveBuffers()): boolean {
  if (warned || buffers === undefined || buffers.rmemDefault >= RECOMMENDED_UDP_RECEIVE_BUFFER) return false;
  warned = true;
  const size = RECOMMENDED_UDP_RECEIVE_BUFFER;
  logger.warn(
    { rmemDefault: buffers.rmemDefault, rmemMax: buffers.rmemMax, recommended: size },
    `UDP receive buffers are small (net.core.rmem_default = ${buffers.rmemDefault} B): fast transfers lose packets and resend them. ` +
      `As root: sysctl -w net.core.rmem_default=${size} net.core.rmem_max=${Math.max(size, buffers.rmemMax)} (README, "UDP receive buffers")`,
  );
  return true;
}
