/** A link's settings, and the bounds the wrtc binding sets on them. */
import { P2PError } from '../errors.js';
import type { Logger } from '../log.js';
import { MAX_RECORD_LENGTH } from './framing.js';
import { DEFAULT_HEARTBEAT, type HeartbeatOptions } from './liveness.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The wrtc binding closes the channel on any single message larger than this. */
export const MAX_CHUNK_SIZE = 256 * KiB;
/** The wrtc binding silently drops sends once this much is buffered, so pacing must stay below it. */
export const MAX_HIGH_WATER_MARK = 16 * MiB;

export interface LinkOptions {
  /**
   * Largest message payload in bytes (UTF-8 bytes for strings), default 64 MiB. Larger sends reject
   * with `ERR_MESSAGE_TOO_LARGE`; larger incoming messages are skipped without being buffered.
   */
  maxMessageSize?: number;
  /**
   * Largest channel message, default and at most {@link MAX_CHUNK_SIZE}. Every `send()` to the
   * binding costs ~100 µs whatever its size, so the largest chunk the binding takes is the fastest.
   */
  chunkSize?: number;
  /** `bufferedAmount` plus the next chunk never exceeds this; default 4 MiB, at most {@link MAX_HIGH_WATER_MARK}. */
  highWaterMark?: number;
  /** How often to re-check `bufferedAmount` while above the mark, default 2 ms. */
  pollMs?: number;
  /** When to send heartbeats and declare the peer lost (see `liveness.ts`). */
  heartbeat?: HeartbeatOptions;
  logger?: Logger;
  /** Monotonic clock in ms, default `performance.now`; injectable so tests need no real waiting. */
  now?: () => number;
}

/** {@link LinkOptions} with every default filled in. */
export type ResolvedLinkOptions = Required<Omit<LinkOptions, 'logger' | 'heartbeat' | 'now'>> & { heartbeat: Required<HeartbeatOptions> };

/** Link options with defaults applied; throws P2PError ERR_INVALID_OPTION for values the binding cannot honour. */
export function resolveLinkOptions(options: LinkOptions): ResolvedLinkOptions {
  const resolved = {
    maxMessageSize: options.maxMessageSize ?? 64 * MiB,
    chunkSize: options.chunkSize ?? MAX_CHUNK_SIZE,
    highWaterMark: options.highWaterMark ?? 4 * MiB,
    pollMs: options.pollMs ?? 2,
    heartbeat: { ...DEFAULT_HEARTBEAT, ...options.heartbeat },
  };
  checkInteger('maxMessageSize', resolved.maxMessageSize, 0, MAX_RECORD_LENGTH);
  checkInteger('chunkSize', resolved.chunkSize, 1, MAX_CHUNK_SIZE);
  // Below one chunk, a chunk would never fit even into an empty buffer and sending would stall forever.
  checkInteger('highWaterMark', resolved.highWaterMark, resolved.chunkSize, MAX_HIGH_WATER_MARK);
  checkInteger('heartbeat.intervalMs', resolved.heartbeat.intervalMs, 10, 3_600_000);
  checkInteger('heartbeat.missedBeats', resolved.heartbeat.missedBeats, 2, 1000);
  if (!Number.isFinite(resolved.pollMs) || resolved.pollMs < 0) {
    throw new P2PError('ERR_INVALID_OPTION', `pollMs must be a finite number >= 0, got ${resolved.pollMs}`);
  }
  return resolved;
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new P2PError('ERR_INVALID_OPTION', `${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}
