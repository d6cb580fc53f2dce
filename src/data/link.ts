/**
 * The data plane of one peer connection: packs application messages into the channel's byte stream
 * (see `framing.ts`), paces them against the channel's send buffer (and, between two links that
 * run a DHT, against the peer's credit: `credit.ts`), and splits incoming bytes back
 * into messages. Transport-agnostic: anything with `send` and `bufferedAmount` will do.
 *
 * @module
 */
import { P2PError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { CREDIT_RECORD_SIZE, CreditGrants, CreditWindow, creditPayload, readCredit } from './credit.js';
import {
  FEATURE_CREDIT,
  FEATURE_PARTS,
  FLAG_FILE,
  FLAG_RECEIPT,
  FLAG_TEXT,
  MAX_DHT_RECORD,
  MAX_FEATURES_RECORD,
  PART_SIZE,
  RecordReader,
  RecordType,
  type RecordHeader,
} from './framing.js';
import { resolveLinkOptions, type LinkOptions, type ResolvedLinkOptions } from './linkOptions.js';
import { Liveness } from './liveness.js';
import { MessageParts } from './parts.js';
import { PendingReceipts, ReceiptStatus, receiptPayload, receiptReason } from './receipts.js';
import { SendQueue, type Filled } from './sendQueue.js';

/**
 * The channel under a link: one `send` per channel message, and how many bytes it has not sent yet.
 * `send` must be done with `chunk` when it returns (the wrtc binding copies it): the link reuses it.
 */
export interface RawChannel {
  send(chunk: Uint8Array): void;
  readonly bufferedAmount: number;
}

/** The high-water mark of a link that runs a DHT, at most (see `PeerLink.mark`). */
export const DHT_LINK_MARK = 512 * 1024;

/**
 * How many bytes a link that runs a DHT keeps sent and unread by a peer that sends credit
 * (docs/protocol.md §13.4): a DHT record waits behind at most this much, 11 ms at 12 MB/s. Measured
 * on loopback (bench section 7): with 256 KiB, bursts overflowed the receiving UDP socket's 208 KiB
 * buffer and lookups waited for SCTP's retransmission timeout (0.4–1.2 s) several times per 64 MiB;
 * with 128 KiB that happened about once.
 */
export const DHT_LINK_WINDOW = 128 * 1024;

/** What a link tells its owner besides messages. */
export interface LinkHooks {
  /** Nothing arrived for a heartbeat interval: the owner may note what the transport below still hears. */
  silent?(): void;
  /** Nothing arrived for half of `missedBeats` intervals: time to try to repair the path (an ICE restart). */
  stalled?(silentMs: number): void;
  /**
   * Nothing arrived for `missedBeats` heartbeat intervals: the peer is gone or frozen, unless the owner
   * knows better (packets still arrive below the channel) and calls {@link PeerLink.revive}.
   */
  lost?(silentMs: number): void;
  /** The peer ended the stream and our EndAck is on its way: it will close the channel. */
  remoteEnd?(): void;
}

/** Where a link hands the DHT records it receives. */
export type DhtRecordHandler = (payload: Uint8Array) => void;

/** Where a link hands the file-transfer messages it receives; false when nobody could take it. */
export type FileMessageHandler = (payload: Uint8Array) => boolean | void;

/** How a local end of the stream finished: acknowledged by the peer, or not (then `unsent` bytes never left). */
export interface EndResult {
  acknowledged: boolean;
  unsent: number;
}

interface Ending {
  done: (result: EndResult) => void;
  timer: NodeJS.Timeout;
}

const EMPTY: Uint8Array = new Uint8Array(0);
const noop = (): void => {};

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * One peer's message link over a {@link RawChannel}: ordered, whole messages of any size up to
 * `maxMessageSize`, strings arriving as strings and bytes as bytes.
 *
 * Sending packs queued messages into channel messages of up to `chunkSize` bytes. The first message
 * of an event-loop turn is sent at once; later ones are packed at the end of the turn, so a burst of
 * small messages costs a few `send()`s and a lone ping costs no delay. The link's queue plus the
 * channel's buffer never exceed `highWaterMark` (the binding silently drops data beyond 16 MiB):
 * `send` resolves once its message fits within that budget, so `await send()` in a loop is flow
 * control, like a stream's `write()`. A `Uint8Array` passed to `send` is copied lazily, so it must not
 * be mutated until that promise settles. A received binary message may be a view of the channel
 * message it arrived in. Between two links that run a DHT, the bytes sent and not yet read by the
 * peer also stay within {@link DHT_LINK_WINDOW}, so that DHT records wait behind little.
 *
 * @example
 * ```ts
 * const link = new PeerLink(
 *   { send: (chunk) => channel.send(chunk), get bufferedAmount() { return channel.bufferedAmount; } },
 *   (data) => console.log(typeof data === 'string' ? data : `${data.length} bytes`),
 *   { logger },
 * );
 * peer.on('data', (chunk: Uint8Array) => link.receive(chunk));
 * await link.send('hello');
 * await link.send(new Uint8Array(10 * 1024 * 1024));
 * link.close();
 * ```
 */
export class PeerLink {
  private readonly options: ResolvedLinkOptions;
  private readonly log: Logger;
  private readonly queue = new SendQueue();
  private readonly reader: RecordReader;
  /**
   * An upper bound of the channel's `bufferedAmount`: its last reading plus what was sent since.
   * Reading the real value is a blocking call into libwebrtc's network thread (~40 µs, as long as a
   * small `send()`), so it is read only when this bound says the next chunk might not fit. Unknown
   * (infinite) until the first reading, since the channel may have been used before the link.
   */
  private buffered = Number.POSITIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  /** Pending end-of-turn flush; while set, the turn has already sent its first message. */
  private flush: NodeJS.Immediate | undefined;
  /** Where chunks are assembled: allocated once, not per chunk (100 MB of garbage per 100 MB sent). */
  private scratch: Buffer | undefined;
  private pumping = false;
  private closed = false;
  /** Set once either side ended the stream: no new message is accepted. */
  private ended = false;
  private ending: Ending | undefined;
  private remoteEnded = false;
  private delivered = 0;
  private handedOver = 0;
  private readonly now: () => number;
  private readonly liveness: Liveness;
  /** Resolved, and emptied, by the next chunk received. */
  private hearing: (() => void)[] = [];
  private readonly receipts = new PendingReceipts();
  #onDht: DhtRecordHandler | undefined;
  /** Set by the node's file transfers; without it, file messages are answered as unread. */
  onFile: FileMessageHandler | undefined;
  /** The peer reassembles messages sent as parts (its features record said so). */
  private peerTakesParts = false;
  private featuresSent = false;
  /** The peer sends credit records (its features record said so). */
  private peerCredits = false;
  /** Bytes sent against the peer's credit; applied only on a DHT link to a peer that sends credit. */
  private readonly window = new CreditWindow(DHT_LINK_WINDOW);
  /** Bytes read and not yet credited to the peer: credited only once our features record said we would. */
  private readonly grants = new CreditGrants();
  private readonly parts: MessageParts;

  /** `onMessage` returns false when it could not keep the message (a receipt then says so). */
  constructor(
    private readonly raw: RawChannel,
    private readonly onMessage: (data: string | Uint8Array) => boolean | void,
    options: LinkOptions = {},
    private readonly hooks: LinkHooks = {},
  ) {
    this.options = resolveLinkOptions(options);
    this.log = options.logger ?? silentLogger;
    this.now = options.now ?? (() => performance.now());
    this.liveness = new Liveness(this.options.heartbeat, this.now());
    this.parts = new MessageParts(this.options.maxMessageSize);
    this.reader = new RecordReader(
      (header) => this.accepts(header),
      (header, payload) => this.deliver(header, payload),
    );
  }

  /** Set by the node that runs a DHT; without one, DHT records are skipped unread. */
  get onDht(): DhtRecordHandler | undefined {
    return this.#onDht;
  }

  set onDht(handler: DhtRecordHandler | undefined) {
    this.#onDht = handler;
    // A link that runs a DHT says it reassembles parts and sends credit, so that the peer may
    // split long messages, let DHT records overtake them, and keep few bytes ahead of them
    // (docs/protocol.md §13.3, §13.4). Links without one keep the stream exactly as it was.
    if (handler && !this.featuresSent && !this.closed) {
      this.featuresSent = true;
      this.queue.pushAhead(RecordType.Features, Uint8Array.of(FEATURE_PARTS | FEATURE_CREDIT));
      this.pump(true);
    }
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
   * Queues a message behind earlier ones and resolves once it fits within `highWaterMark`. Rejects
   * with `ERR_INVALID_DATA` for anything but a string or Uint8Array, `ERR_MESSAGE_TOO_LARGE` above
   * `maxMessageSize`, and `ERR_PEER_CLOSED` if the link closes first. Like bytes in the channel's
   * own buffer, accepted messages not yet sent are lost if the link closes. Strings are sent as
   * UTF-8, so lone surrogates arrive as U+FFFD. With `receipt`, it resolves only once the far side's
   * node took the message, and rejects with `ERR_NOT_DELIVERED` if it dropped it. With `file`, a
   * binary message goes to the far side's {@link onFile} instead of its `onMessage`.
   */
  send(data: string | Uint8Array, { receipt = false, file = false }: { receipt?: boolean; file?: boolean } = {}): Promise<void> {
    if (this.closed) return Promise.reject(new P2PError('ERR_PEER_CLOSED', 'link is closed'));
    if (this.ended) return Promise.reject(new P2PError('ERR_PEER_CLOSED', 'link is ending'));
    let payload: Uint8Array;
    let flags = 0;
    try {
      if (typeof data === 'string') {
        payload = this.encodeText(data);
        flags = FLAG_TEXT;
      } else {
        payload = this.checkBytes(data);
        if (file) flags = FLAG_FILE;
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      if (receipt) this.receipts.add(resolve, reject);
      this.queue.pushMessage(payload, receipt ? flags | FLAG_RECEIPT : flags, this.splits(payload.length), receipt ? noop : resolve, reject);
      const turnStarted = this.flush !== undefined;
      this.flush ??= setImmediate(() => this.onFlush());
      this.pump(!turnStarted);
    });
  }

  /**
   * Queues a DHT record ahead of every message not yet started: lookups and routed signals must not
   * wait behind bulk data. False if the link is closed or the record is too large.
   */
  sendDht(payload: Uint8Array): boolean {
    if (this.closed || payload.length > MAX_DHT_RECORD) return false;
    this.queue.pushAhead(RecordType.Dht, payload);
    this.pump(true);
    return true;
  }

  /**
   * The high-water mark in force. A DHT record waits behind whatever the channel's buffer holds, so
   * a link that runs a DHT keeps that buffer shallow ({@link DHT_LINK_MARK}): at 100 MB/s, 4 MiB
   * ahead of a lookup is 40 ms, 512 KiB is 5.
   */
  private get mark(): number {
    return this.#onDht ? Math.min(this.options.highWaterMark, DHT_LINK_MARK) : this.options.highWaterMark;
  }

  /** Whether a message of `length` bytes goes as parts: only to a peer that takes them, on a DHT link. */
  private splits(length: number): boolean {
    return this.peerTakesParts && this.#onDht !== undefined && length > PART_SIZE;
  }

  /** Feeds one channel message; never throws, whatever the bytes. */
  receive(chunk: Uint8Array): void {
    if (this.closed) return;
    this.liveness.heard(this.now());
    if (this.hearing.length > 0) for (const resolve of this.hearing.splice(0)) resolve();
    this.reader.push(chunk);
    this.grants.read(chunk.length);
    this.grantCredit();
  }

  /** Credits the peer with the bytes read, once there are enough to say so (and we said we would). */
  private grantCredit(): void {
    if (!this.featuresSent || this.closed) return;
    const bytes = this.grants.take();
    if (bytes === undefined) return;
    this.queue.pushAhead(RecordType.Credit, creditPayload(bytes));
    this.pump(true);
  }

  /** How many bytes the peer's credit lets us send now: unbounded unless both ends run a DHT and the peer sends credit. */
  private get creditRoom(): number {
    return this.peerCredits && this.#onDht ? this.window.room : Number.POSITIVE_INFINITY;
  }

  /** Whether the peer has missed a heartbeat (nothing heard for one and a half intervals). */
  get silent(): boolean {
    return this.liveness.isSilent(this.now());
  }

  /** Resolves when the next bytes arrive from the peer (never, if none do: race it with the close). */
  nextHeard(): Promise<void> {
    return new Promise((resolve) => this.hearing.push(resolve));
  }

  /** How often {@link tick} should run. */
  get tickEveryMs(): number {
    return this.liveness.checkEveryMs;
  }

  /** Sends a heartbeat if this link has been quiet for an interval; reports the peer lost once it is silent too long. */
  tick(): void {
    if (this.closed) return;
    const { beat, silent, stalledAfterMs, lostAfterMs } = this.liveness.check(this.now());
    if (beat && this.queue.empty) this.enqueueControl(RecordType.Heartbeat);
    if (silent) this.hooks.silent?.();
    if (stalledAfterMs !== undefined) this.hooks.stalled?.(stalledAfterMs);
    if (lostAfterMs !== undefined) this.hooks.lost?.(lostAfterMs);
  }

  /** Counts the peer as heard now, though nothing came through the channel: a new silence starts. */
  revive(): void {
    this.liveness.heard(this.now());
  }

  /**
   * Ends the stream: accepts no more messages, sends what it accepted, then an End record, and calls
   * `done` once the peer acknowledges that everything arrived. After `timeoutMs`, or if the link
   * closes first, `done` says it was not acknowledged and how many bytes never left this node (bytes
   * that left but were not acknowledged may be lost as well).
   */
  end(timeoutMs: number, done: (result: EndResult) => void): void {
    if (this.closed || this.ending) return done({ acknowledged: false, unsent: this.closed ? 0 : this.unsentBytes() });
    this.ended = true;
    this.ending = { done, timer: setTimeout(() => this.finishEnd(false), timeoutMs) };
    this.enqueueControl(RecordType.End);
  }

  /** Rejects every unfinished send with `ERR_PEER_CLOSED` and stops all timers; idempotent. */
  close(): void {
    this.shutdown(new P2PError('ERR_PEER_CLOSED', 'link closed'));
  }

  /** Queues a control record of `type` behind everything accepted so far. */
  private enqueueControl(type: RecordType, onSent?: () => void, payload = EMPTY): void {
    this.queue.push(type, payload, onSent);
    this.pump(true);
  }

  private answerReceipt(flags: number, status: ReceiptStatus): void {
    if (flags & FLAG_RECEIPT && !this.closed) this.enqueueControl(RecordType.Receipt, undefined, receiptPayload(status));
  }

  /** Bytes accepted that never reached the network: still queued, or still in the channel's buffer. */
  private unsentBytes(): number {
    let buffered = 0;
    try {
      buffered = this.raw.bufferedAmount;
    } catch {
      // a closed channel may refuse the read; whatever it held is gone either way
    }
    return this.queue.bytes + buffered;
  }

  private finishEnd(acknowledged: boolean): void {
    const ending = this.ending;
    if (!ending) return;
    this.ending = undefined;
    clearTimeout(ending.timer);
    ending.done({ acknowledged, unsent: acknowledged ? 0 : this.unsentBytes() });
  }

  /** The peer ended its stream: refuse new messages, send what was accepted, then acknowledge. */
  private onRemoteEnd(): void {
    if (this.remoteEnded) return;
    this.remoteEnded = true;
    this.ended = true;
    // A message still in pieces can no longer end: the peer sends no more messages.
    this.parts.reset();
    this.enqueueControl(RecordType.EndAck, () => this.hooks.remoteEnd?.());
  }

  private encodeText(text: string): Uint8Array {
    // Measure before encoding so an oversize string costs no allocation.
    const size = Buffer.byteLength(text, 'utf8');
    if (size > this.options.maxMessageSize) throw tooLarge(size, this.options.maxMessageSize);
    return Buffer.from(text, 'utf8');
  }

  private checkBytes(data: unknown): Uint8Array {
    if (!(data instanceof Uint8Array)) throw new P2PError('ERR_INVALID_DATA', 'a message must be a string or a Uint8Array');
    if (data.length > this.options.maxMessageSize) throw tooLarge(data.length, this.options.maxMessageSize);
    return data;
  }

  /**
   * Hands full chunks to the channel while there is room. A last, partial chunk goes only at a flush
   * (nothing more can join it this turn) and only once the channel runs low: while it still has
   * plenty to send, waiting lets the chunk fill up, and each `send()` saved is ~100 µs of libwebrtc's
   * time. Polls while it waits.
   */
  private pump(flush: boolean): void {
    if (this.pumping || this.timer !== undefined || this.closed) return;
    this.pumping = true;
    try {
      while (this.queue.bytes > 0) {
        let size = Math.min(this.options.chunkSize, this.queue.bytes);
        const partial = size < this.options.chunkSize;
        if (partial && !flush) break; // the end-of-turn flush sends it
        const credit = this.creditRoom;
        if (credit < size) {
          // What the peer has room for; records queued ahead (DHT, features, credit) go whatever
          // the credit: they are small, and what it keeps the way clear for.
          size = Math.max(credit, Math.min(this.queue.aheadBytes, size));
          if (size === 0) break; // the next credit record pumps again
        }
        // Room for the chunk under the mark; a partial one also waits until fewer than two chunks are left.
        const room = this.mark - size + 1;
        if (!this.bufferedBelow(partial ? Math.min(room, 2 * this.options.chunkSize) : room)) {
          this.timer = setTimeout(() => this.onPoll(), this.options.pollMs);
          break;
        }
        if (!this.sendChunk(size)) return;
      }
    } finally {
      this.pumping = false;
    }
    this.queue.accept(this.buffered, this.mark);
  }

  /** The peer read `bytes` more: room to send them again. */
  private onCredit(bytes: number): void {
    if (!this.window.credit(bytes)) this.log.debug({ bytes, outstanding: this.window.outstanding }, 'peer credited more bytes than were sent');
    this.pump(true);
  }

  private onPoll(): void {
    this.timer = undefined;
    this.pump(true);
  }

  private onFlush(): void {
    this.flush = undefined;
    this.pump(true);
  }

  /** Whether the channel holds fewer than `limit` unsent bytes, reading it only if our bound says otherwise. */
  private bufferedBelow(limit: number): boolean {
    if (this.buffered < limit) return true;
    this.buffered = this.raw.bufferedAmount;
    return this.buffered < limit;
  }

  /**
   * Sends the next `size` queued bytes as one channel message: a view of a payload when they lie
   * inside one, else copied together; false if the channel failed.
   */
  private sendChunk(size: number): boolean {
    let chunk: Uint8Array;
    let filled: Filled;
    const viewed = this.queue.view(size);
    if (viewed) ({ chunk, filled } = viewed);
    else {
      this.scratch ??= Buffer.allocUnsafeSlow(this.options.chunkSize);
      chunk = this.scratch.subarray(0, size);
      filled = this.queue.fill(chunk);
    }
    const { completed, payloadBytes } = filled;
    try {
      this.raw.send(chunk);
    } catch (cause) {
      this.log.warn({ err: cause }, 'channel send failed, closing link');
      this.shutdown(new P2PError('ERR_PEER_CLOSED', 'channel closed while sending', { cause }));
      return false;
    }
    this.liveness.sent(this.now());
    this.window.sent(size);
    this.buffered += size;
    this.handedOver += payloadBytes;
    this.queue.sent(size, completed);
    return true;
  }

  private shutdown(reason: P2PError): void {
    if (this.closed) return;
    if (this.ending) this.finishEnd(false);
    this.closed = true;
    this.hearing = [];
    clearTimeout(this.timer);
    clearImmediate(this.flush);
    this.timer = undefined;
    this.flush = undefined;
    this.queue.clear(reason);
    this.receipts.rejectAll(reason);
  }

  /** Whether to keep an incoming record's payload; anything refused is skipped without buffering. */
  private accepts({ type, flags, length }: RecordHeader): boolean {
    if (type === RecordType.Heartbeat || type === RecordType.End || type === RecordType.EndAck) return length === 0;
    if (type === RecordType.Receipt) return length === 1;
    if (type === RecordType.Dht) return this.#onDht !== undefined && length <= MAX_DHT_RECORD;
    if (type === RecordType.Features) return length >= 1 && length <= MAX_FEATURES_RECORD;
    if (type === RecordType.Credit) return length === CREDIT_RECORD_SIZE;
    if (type === RecordType.Part) return this.parts.acceptsPart(flags, length);
    if (type !== RecordType.Message) {
      this.log.debug({ type, length }, 'skipping record of unknown type');
      return false;
    }
    // The message's first pieces may have come as parts: a refusal now drops them as well.
    const refused = this.parts.refusesLast(flags, length);
    if (refused === undefined) return true;
    this.log.warn({ flags, length, max: this.options.maxMessageSize }, `skipping incoming message: ${receiptReason(refused)}`);
    this.answerReceipt(flags, refused);
    return false;
  }

  private deliver({ type, flags }: RecordHeader, payload: Uint8Array): void {
    if (this.closed) return;
    if (type === RecordType.End) return this.onRemoteEnd();
    if (type === RecordType.EndAck) return this.finishEnd(true);
    if (type === RecordType.Heartbeat) return;
    if (type === RecordType.Receipt) return this.receipts.settle(payload);
    if (type === RecordType.Dht) return this.#onDht?.(payload);
    if (type === RecordType.Features) {
      this.peerTakesParts = (payload[0]! & FEATURE_PARTS) !== 0;
      this.peerCredits = (payload[0]! & FEATURE_CREDIT) !== 0;
      return;
    }
    if (type === RecordType.Credit) return this.onCredit(readCredit(payload));
    if (type === RecordType.Part) return this.parts.add(payload);
    payload = this.parts.complete(payload);
    const file = (flags & FLAG_FILE) !== 0;
    let data: string | Uint8Array = payload;
    if (flags & FLAG_TEXT && !file) {
      try {
        data = utf8.decode(payload);
      } catch {
        this.log.warn({ size: payload.length }, 'dropping TEXT message that is not valid UTF-8');
        return this.answerReceipt(flags, ReceiptStatus.NotUtf8);
      }
    }
    this.delivered += payload.length;
    // A message whose handler threw was still taken; a file message with nobody to take it was not.
    let kept: boolean | void = !file;
    try {
      kept = file ? (this.onFile?.(payload) ?? false) : this.onMessage(data);
    } catch (err) {
      this.log.error({ err }, file ? 'file message handler threw' : 'message handler threw');
    }
    this.answerReceipt(flags, kept === false ? ReceiptStatus.Unread : ReceiptStatus.Delivered);
  }
}

function tooLarge(size: number, max: number): P2PError {
  return new P2PError('ERR_MESSAGE_TOO_LARGE', `message of ${size} bytes exceeds the ${max}-byte limit`);
}
