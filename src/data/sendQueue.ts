/**
 * The records a link has queued to send, and the byte counts its flow control rests on: what is
 * queued, and how much of it was already accepted (its sender told to go on). Pure: `PeerLink` decides
 * when to pack a chunk and hands it to the channel.
 *
 * @module
 */
import type { P2PError } from '../errors.js';
import { HEADER_SIZE, RecordType, encodeHeader } from './framing.js';
import { splitMessage, splitSize } from './parts.js';

/** A queued record: its header, then its payload, `offset` counting the bytes of both already sent. */
interface Outgoing {
  header: Uint8Array;
  payload: Uint8Array;
  offset: number;
  resolve: () => void;
  reject: (err: P2PError) => void;
  /** Called once the record is handed to the channel whole (control records act on it). */
  onSent?: () => void;
  /** Queued ahead of messages (DHT, features and credit records). */
  ahead?: boolean;
}

/** What {@link SendQueue.fill} put in a chunk. */
export interface Filled {
  /** Records whose last byte is in the chunk. */
  completed: number;
  /** Payload bytes in the chunk (headers excluded). */
  payloadBytes: number;
}

const noop = (): void => {};

/**
 * A link's send queue: records go out in order, except that records queued "ahead" (DHT, features, credit)
 * overtake every record not yet started. A message may be queued as parts (docs/protocol.md §13.3):
 * it then settles with its last record alone, and records queued ahead can go between its pieces.
 *
 * @example
 * ```ts
 * const queue = new SendQueue();
 * queue.pushMessage(payload, 0, false, resolve, reject);
 * queue.accept(channel.bufferedAmount, highWaterMark); // resolves what fits
 * const filled = queue.fill(chunk);
 * channel.send(chunk);
 * queue.sent(chunk.length, filled.completed);
 * ```
 */
export class SendQueue {
  readonly #records: Outgoing[] = [];
  /** Record bytes (headers and payloads) queued and not yet sent. */
  #bytes = 0;
  /** How many records at the head of the queue have resolved, and how many of their bytes are unsent. */
  #accepted = 0;
  #acceptedBytes = 0;

  /** Record bytes (headers and payloads) queued and not yet sent. */
  get bytes(): number {
    return this.#bytes;
  }

  get empty(): boolean {
    return this.#records.length === 0;
  }

  /** Unsent bytes of the records queued ahead (DHT, features, credit) at the head of the queue. */
  get aheadBytes(): number {
    let bytes = 0;
    for (let i = 0; this.#records[i]?.ahead; i++) bytes += HEADER_SIZE + this.#records[i]!.payload.length - this.#records[i]!.offset;
    return bytes;
  }

  /**
   * Queues a message record behind everything, or with `split` its parts and final record. The
   * message settles with its final record: `resolve` once that is accepted, `reject` if the queue is
   * cleared first (once, since the parts before it reject nothing).
   */
  pushMessage(payload: Uint8Array, flags: number, split: boolean, resolve: () => void, reject: (err: P2PError) => void): void {
    if (!split) {
      this.#records.push({ header: encodeHeader(RecordType.Message, flags, payload.length), payload, offset: 0, resolve, reject });
      this.#bytes += HEADER_SIZE + payload.length;
      return;
    }
    const pieces = splitMessage(payload, flags);
    const last = pieces.pop()!;
    for (const piece of pieces) this.#records.push({ ...piece, offset: 0, resolve: noop, reject: noop });
    this.#records.push({ ...last, offset: 0, resolve, reject });
    this.#bytes += splitSize(payload.length);
  }

  /** Queues a control record behind everything; `onSent` runs once it is handed to the channel whole. */
  push(type: RecordType, payload: Uint8Array, onSent?: () => void): void {
    this.#records.push({ header: encodeHeader(type, 0, payload.length), payload, offset: 0, resolve: noop, reject: noop, onSent });
    this.#bytes += HEADER_SIZE + payload.length;
  }

  /** Queues a record ahead of every message not yet started (behind the piece being sent). */
  pushAhead(type: RecordType, payload: Uint8Array): void {
    const record: Outgoing = { header: encodeHeader(type, 0, payload.length), payload, offset: 0, resolve: noop, reject: noop, ahead: true };
    // Behind the record being sent, if any (a record's bytes cannot be split by another's), and
    // behind the records queued ahead before it: they keep their order (signals of one session too).
    let at = this.#records.length > 0 && this.#records[0]!.offset > 0 ? 1 : 0;
    while (this.#records[at]?.ahead) at++;
    this.#records.splice(at, 0, record);
    const size = HEADER_SIZE + payload.length;
    this.#bytes += size;
    // It costs the send budget nothing to wait for: count it with the accepted head of the queue.
    if (at <= this.#accepted) {
      this.#accepted++;
      this.#acceptedBytes += size;
    }
  }

  /** Resolves queued records, in order, while `buffered` plus their unsent bytes stay within `mark`. */
  accept(buffered: number, mark: number): void {
    for (let record = this.#records[this.#accepted]; record; record = this.#records[this.#accepted]) {
      const unsent = HEADER_SIZE + record.payload.length - record.offset;
      if (buffered + this.#acceptedBytes + unsent > mark) return;
      this.#accepted++;
      this.#acceptedBytes += unsent;
      record.resolve();
    }
  }

  /** Copies the next `chunk.length` queued bytes into `chunk` (at most {@link bytes}); {@link sent} must follow. */
  fill(chunk: Uint8Array): Filled {
    const size = chunk.length;
    let filled = 0;
    let completed = 0;
    let payloadBytes = 0;
    while (filled < size) {
      const record = this.#records[completed]!;
      if (record.offset < HEADER_SIZE) {
        const end = Math.min(HEADER_SIZE, record.offset + size - filled);
        chunk.set(record.header.subarray(record.offset, end), filled);
        filled += end - record.offset;
        record.offset = end;
        if (end < HEADER_SIZE) break; // the chunk is full and ends inside this header
      }
      const start = record.offset - HEADER_SIZE;
      const end = Math.min(record.payload.length, start + size - filled);
      chunk.set(record.payload.subarray(start, end), filled);
      filled += end - start;
      payloadBytes += end - start;
      record.offset = HEADER_SIZE + end;
      if (record.offset === HEADER_SIZE + record.payload.length) completed++;
    }
    return { completed, payloadBytes };
  }

  /**
   * The next `size` queued bytes as a view of one payload, when they all lie inside the payload being
   * sent (its header already went), else undefined: a large message's middle chunks go without a copy.
   * {@link sent} must follow, as after {@link fill}.
   */
  view(size: number): { chunk: Uint8Array; filled: Filled } | undefined {
    const record = this.#records[0];
    if (!record || record.offset < HEADER_SIZE) return undefined;
    const start = record.offset - HEADER_SIZE;
    if (record.payload.length - start < size) return undefined;
    record.offset += size;
    const completed = record.offset === HEADER_SIZE + record.payload.length ? 1 : 0;
    return { chunk: record.payload.subarray(start, start + size), filled: { completed, payloadBytes: size } };
  }

  /** The chunk {@link fill} wrote (or {@link view} gave) went to the channel: records sent whole are handed over, and resolve if the budget had not accepted them yet. */
  sent(size: number, completed: number): void {
    this.#bytes -= size;
    this.#acceptedBytes -= Math.min(size, this.#acceptedBytes);
    for (const record of this.#records.splice(0, completed)) {
      record.resolve();
      record.onSent?.();
    }
    this.#accepted = Math.max(0, this.#accepted - completed);
  }

  /** Rejects every queued record with `reason` and empties the queue. */
  clear(reason: P2PError): void {
    this.#bytes = 0;
    this.#accepted = 0;
    this.#acceptedBytes = 0;
    for (const record of this.#records.splice(0)) record.reject(reason);
  }
}
