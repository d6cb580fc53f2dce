/**
 * The data plane of one peer connection: splits application messages into frames (see
 * `framing.ts`), paces them against the channel's send buffer, and reassembles incoming frames.
 * Transport-agnostic: anything with `send` and `bufferedAmount` will do.
 *
 * @module
 */
import { P2PError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import {
  BASE_HEADER_SIZE,
  FIRST_HEADER_SIZE,
  FLAG_FIRST,
  FLAG_LAST,
  FLAG_TEXT,
  FrameType,
  MAX_TOTAL_LENGTH,
  decodeFrame,
  encodeFrame,
  type Frame,
} from './framing.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The wrtc binding closes the channel on any single message larger than this. */
export const MAX_CHUNK_SIZE = 256 * KiB;
/** The wrtc binding silently drops sends once this much is buffered, so pacing must stay below it. */
export const MAX_HIGH_WATER_MARK = 16 * MiB;

/** The channel under a link: one `send` per frame, and how many bytes it has not sent yet. */
export interface RawChannel {
  send(frame: Uint8Array): void;
  readonly bufferedAmount: number;
}

export interface LinkOptions {
  /**
   * Largest message payload in bytes (UTF-8 bytes for strings), default 64 MiB. Larger sends reject
   * with `ERR_MESSAGE_TOO_LARGE`; larger incoming messages are dropped before any buffering.
   */
  maxMessageSize?: number;
  /** Largest frame including its header, default 64 KiB, at most {@link MAX_CHUNK_SIZE}. */
  chunkSize?: number;
  /** `bufferedAmount` plus the next frame never exceeds this; default 4 MiB, at most {@link MAX_HIGH_WATER_MARK}. */
  highWaterMark?: number;
  /** How often to re-check `bufferedAmount` while above the mark, default 2 ms. */
  pollMs?: number;
  logger?: Logger;
}

type ResolvedOptions = Required<Omit<LinkOptions, 'logger'>>;

/** A message being handed to the channel, frame by frame. */
interface Outgoing {
  bytes: Uint8Array;
  textFlag: number;
  /** Bytes of `bytes` already framed; meaningful once `started`. */
  offset: number;
  started: boolean;
  resolve: () => void;
  reject: (err: P2PError) => void;
}

/** An incoming message whose FIRST frame arrived and whose LAST has not. */
interface Incoming {
  buffer: Uint8Array;
  received: number;
  textFlag: number;
}

/** Link options with defaults applied; throws P2PError ERR_INVALID_OPTION for values the binding cannot honour. */
export function resolveLinkOptions(options: LinkOptions): ResolvedOptions {
  const resolved = {
    maxMessageSize: options.maxMessageSize ?? 64 * MiB,
    chunkSize: options.chunkSize ?? 64 * KiB,
    highWaterMark: options.highWaterMark ?? 4 * MiB,
    pollMs: options.pollMs ?? 2,
  };
  checkInteger('maxMessageSize', resolved.maxMessageSize, 0, MAX_TOTAL_LENGTH);
  // A FIRST frame must carry at least one payload byte or large messages could never progress.
  checkInteger('chunkSize', resolved.chunkSize, FIRST_HEADER_SIZE + 1, MAX_CHUNK_SIZE);
  // Below one chunk, a frame would never fit even into an empty buffer and sending would stall forever.
  checkInteger('highWaterMark', resolved.highWaterMark, resolved.chunkSize, MAX_HIGH_WATER_MARK);
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

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * One peer's message link over a {@link RawChannel}: ordered, whole messages of any size up to
 * `maxMessageSize`, strings arriving as strings and bytes as bytes.
 *
 * Sending never lets the channel's buffer grow past `highWaterMark` (the binding would silently drop
 * data beyond 16 MiB); `send` queues and resolves once the message's last frame is handed over.
 * A `Uint8Array` passed to `send` is framed lazily, so it must not be mutated until that promise settles.
 * `receive` takes ownership of each frame: a single-frame binary message is delivered as a view of it.
 *
 * @example
 * ```ts
 * const link = new PeerLink(
 *   { send: (frame) => channel.send(frame), get bufferedAmount() { return channel.bufferedAmount; } },
 *   (data) => console.log(typeof data === 'string' ? data : `${data.length} bytes`),
 *   { logger },
 * );
 * peer.on('data', (frame: Uint8Array) => link.receive(frame));
 * await link.send('hello');
 * await link.send(new Uint8Array(10 * 1024 * 1024));
 * link.close();
 * ```
 */
export class PeerLink {
  private readonly options: ResolvedOptions;
  private readonly log: Logger;
  private readonly queue: Outgoing[] = [];
  private timer: NodeJS.Timeout | undefined;
  private pumping = false;
  private closed = false;
  private partial: Incoming | undefined;
  /** Set after an oversize or malformed message: its remaining frames are ignored until the next FIRST. */
  private skipping = false;
  private delivered = 0;
  private handedOver = 0;

  constructor(
    private readonly raw: RawChannel,
    private readonly onMessage: (data: string | Uint8Array) => void,
    options: LinkOptions = {},
  ) {
    this.options = resolveLinkOptions(options);
    this.log = options.logger ?? silentLogger;
  }

  /** Application payload bytes delivered to `onMessage` (UTF-8 bytes for strings). */
  get bytesIn(): number {
    return this.delivered;
  }

  /** Application payload bytes handed to the channel (UTF-8 bytes for strings). */
  get bytesOut(): number {
    return this.handedOver;
  }

  /**
   * Queues a message behind earlier ones. Rejects with `ERR_INVALID_DATA` for anything but a string
   * or Uint8Array, `ERR_MESSAGE_TOO_LARGE` above `maxMessageSize`, and `ERR_PEER_CLOSED` if the link
   * closes before the whole message is handed over. Strings are sent as UTF-8, so lone surrogates
   * arrive as U+FFFD.
   */
  send(data: string | Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new P2PError('ERR_PEER_CLOSED', 'link is closed'));
    let outgoing: Pick<Outgoing, 'bytes' | 'textFlag'>;
    try {
      outgoing = this.toOutgoing(data);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ...outgoing, offset: 0, started: false, resolve, reject });
      this.pump();
    });
  }

  /** Feeds one channel message; never throws, whatever the bytes. */
  receive(frame: Uint8Array): void {
    if (this.closed) return;
    const decoded = decodeFrame(frame);
    switch (decoded.kind) {
      case 'unknown-type':
        this.log.debug({ type: decoded.type, size: frame.length }, 'skipping frame of unknown type');
        return;
      case 'malformed':
        this.dropFrame(decoded.reason);
        return;
      case 'frame':
        if (decoded.frame.flags & FLAG_FIRST) this.beginMessage(decoded.frame);
        else this.continueMessage(decoded.frame);
    }
  }

  /** Rejects every unfinished send with `ERR_PEER_CLOSED` and stops all timers; idempotent. */
  close(): void {
    this.shutdown(new P2PError('ERR_PEER_CLOSED', 'link closed'));
  }

  private toOutgoing(data: string | Uint8Array): Pick<Outgoing, 'bytes' | 'textFlag'> {
    const max = this.options.maxMessageSize;
    if (typeof data === 'string') {
      // Measure before encoding so an oversize string costs no allocation.
      const size = Buffer.byteLength(data, 'utf8');
      if (size > max) throw tooLarge(size, max);
      return { bytes: Buffer.from(data, 'utf8'), textFlag: FLAG_TEXT };
    }
    if (!(data instanceof Uint8Array)) {
      throw new P2PError('ERR_INVALID_DATA', 'a message must be a string or a Uint8Array');
    }
    if (data.length > max) throw tooLarge(data.length, max);
    return { bytes: data, textFlag: 0 };
  }

  /** Hands frames to the channel until the queue is empty or the buffer is full, then polls. */
  private pump(): void {
    if (this.pumping || this.timer !== undefined) return;
    this.pumping = true;
    try {
      for (let head = this.queue[0]; head && !this.closed; head = this.queue[0]) {
        if (!this.hasRoomFor(head)) {
          this.timer = setTimeout(() => this.onPoll(), this.options.pollMs);
          return;
        }
        if (!this.sendFrame(head)) return;
      }
    } finally {
      this.pumping = false;
    }
  }

  private onPoll(): void {
    this.timer = undefined;
    this.pump();
  }

  private hasRoomFor(message: Outgoing): boolean {
    const remaining = message.bytes.length - message.offset;
    const frameSize = Math.min(this.options.chunkSize, this.headerOf(message) + remaining);
    return this.raw.bufferedAmount + frameSize <= this.options.highWaterMark;
  }

  private headerOf(message: Outgoing): number {
    return message.started ? BASE_HEADER_SIZE : FIRST_HEADER_SIZE;
  }

  /** Sends the next frame of `message`; false if the channel failed and the link closed. */
  private sendFrame(message: Outgoing): boolean {
    const { bytes, offset } = message;
    const end = Math.min(bytes.length, offset + this.options.chunkSize - this.headerOf(message));
    const flags = (message.started ? 0 : FLAG_FIRST) | (end === bytes.length ? FLAG_LAST : 0) | message.textFlag;
    try {
      this.raw.send(encodeFrame(FrameType.Message, flags, bytes.length, bytes, offset, end));
    } catch (cause) {
      this.log.warn({ err: cause }, 'channel send failed, closing link');
      this.shutdown(new P2PError('ERR_PEER_CLOSED', 'channel closed while sending', { cause }));
      return false;
    }
    this.handedOver += end - offset;
    message.started = true;
    message.offset = end;
    if (flags & FLAG_LAST) {
      this.queue.shift();
      message.resolve();
    }
    return true;
  }

  private shutdown(reason: P2PError): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.partial = undefined;
    for (const message of this.queue.splice(0)) message.reject(reason);
  }

  private beginMessage(frame: Frame): void {
    const total = frame.totalLength ?? 0;
    if (this.partial) {
      this.log.warn({ received: this.partial.received }, 'message cut short by a new one, discarding it');
    }
    this.partial = undefined;
    this.skipping = false;
    if (total > this.options.maxMessageSize) {
      this.log.warn({ size: total, max: this.options.maxMessageSize }, 'dropping oversize incoming message');
      this.skipping = true;
      return;
    }
    if (frame.payload.length > total) return this.dropFrame('more bytes than announced');
    const textFlag = frame.flags & FLAG_TEXT;
    if (frame.flags & FLAG_LAST) return this.completeSingle(frame.payload, total, textFlag);
    // allocUnsafeSlow skips zero-filling: delivery requires every byte to have been written.
    const buffer = Buffer.allocUnsafeSlow(total);
    buffer.set(frame.payload);
    this.partial = { buffer, received: frame.payload.length, textFlag };
  }

  private completeSingle(payload: Uint8Array, total: number, textFlag: number): void {
    if (payload.length !== total) return this.dropFrame('LAST frame before the announced length');
    this.deliver(payload, textFlag);
  }

  private continueMessage(frame: Frame): void {
    if (this.skipping) {
      this.log.debug({ size: frame.payload.length }, 'skipping the rest of a dropped message');
      return;
    }
    const partial = this.partial;
    if (!partial) return this.dropFrame('continuation without a FIRST frame');
    if ((frame.flags & FLAG_TEXT) !== partial.textFlag) return this.dropFrame('TEXT flag changed within a message');
    const received = partial.received + frame.payload.length;
    if (received > partial.buffer.length) return this.dropFrame('more bytes than announced');
    partial.buffer.set(frame.payload, partial.received);
    partial.received = received;
    if (!(frame.flags & FLAG_LAST)) return;
    if (received !== partial.buffer.length) return this.dropFrame('LAST frame before the announced length');
    this.partial = undefined;
    this.deliver(partial.buffer, partial.textFlag);
  }

  /** Discards the frame and any message it belonged to; the next FIRST frame starts afresh. */
  private dropFrame(reason: string): void {
    this.log.warn({ reason, discarded: this.partial?.received }, 'dropping malformed frame');
    this.partial = undefined;
    this.skipping = true;
  }

  private deliver(payload: Uint8Array, textFlag: number): void {
    let data: string | Uint8Array = payload;
    if (textFlag) {
      try {
        data = utf8.decode(payload);
      } catch {
        return this.dropFrame('TEXT message is not valid UTF-8');
      }
    }
    this.delivered += payload.length;
    try {
      this.onMessage(data);
    } catch (err) {
      this.log.error({ err }, 'message handler threw');
    }
  }
}

function tooLarge(size: number, max: number): P2PError {
  return new P2PError('ERR_MESSAGE_TOO_LARGE', `message of ${size} bytes exceeds the ${max}-byte limit`);
}
