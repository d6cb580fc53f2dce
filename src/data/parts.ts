/**
 * Messages sent as parts (docs/protocol.md §13.3): both ends of a link that runs a DHT split long
 * messages into {@link RecordType.Part} records and a final message record, so that DHT records can
 * go between the pieces. This is the sender's split and the receiver's reassembly.
 *
 * @module
 */
import { HEADER_SIZE, KNOWN_FLAGS, PART_SIZE, RecordType, encodeHeader } from './framing.js';
import { ReceiptStatus } from './receipts.js';

/** One record of a split message: its header and a view of its piece. */
export interface Piece {
  header: Buffer;
  payload: Uint8Array;
}

/**
 * The records that carry `payload`: parts of exactly {@link PART_SIZE} bytes (views, no copies),
 * then a message record with `flags` holding the rest.
 *
 * @example
 * ```ts
 * splitMessage(new Uint8Array(150 * 1024), 0); // two 64 KiB parts and a 22 KiB final record
 * ```
 */
export function splitMessage(payload: Uint8Array, flags: number): Piece[] {
  const pieces: Piece[] = [];
  let at = 0;
  for (; payload.length - at > PART_SIZE; at += PART_SIZE) {
    pieces.push({ header: encodeHeader(RecordType.Part, 0, PART_SIZE), payload: payload.subarray(at, at + PART_SIZE) });
  }
  pieces.push({ header: encodeHeader(RecordType.Message, flags, payload.length - at), payload: payload.subarray(at) });
  return pieces;
}

/** The bytes a split message takes on the wire, headers included. */
export function splitSize(length: number): number {
  return length + HEADER_SIZE * (1 + Math.max(0, Math.ceil(length / PART_SIZE) - 1));
}

/**
 * The message in progress on a link, as its records arrive: one message record, or parts and a final
 * message record. Decides which to keep: a message over the receiver's size limit is dropped as soon
 * as its pieces pass the limit, and its remaining pieces are skipped unread.
 *
 * @example
 * ```ts
 * const parts = new MessageParts(64 * 1024 * 1024);
 * // a part record:
 * if (parts.acceptsPart(header.flags, header.length)) parts.add(piece);
 * // the message record that ends it:
 * const refused = parts.refusesLast(header.flags, header.length); // a receipt status, or undefined
 * if (refused === undefined) deliver(parts.complete(lastPiece));
 * ```
 */
export class MessageParts {
  #pieces: Uint8Array[] = [];
  #size = 0;
  /** Why the message in progress was dropped (a receipt status), if it was: its pieces are skipped. */
  #dropped: ReceiptStatus | undefined;

  constructor(private readonly maxMessageSize: number) {}

  /** Whether to keep a part of `length` bytes; one with flags, or past the limit, drops its message. */
  acceptsPart(flags: number, length: number): boolean {
    if (this.#dropped !== undefined) return false;
    if (flags !== 0) return this.#drop(ReceiptStatus.UnknownFlags);
    if (this.#size + length > this.maxMessageSize) return this.#drop(ReceiptStatus.TooLarge);
    return true;
  }

  /**
   * Why the message whose final record has `flags` and `length` must be refused, as the receipt
   * status to answer with, or undefined to keep it. A refused message is forgotten, pieces and all.
   */
  refusesLast(flags: number, length: number): ReceiptStatus | undefined {
    let refused = this.#dropped;
    if (refused === undefined && flags & ~KNOWN_FLAGS) refused = ReceiptStatus.UnknownFlags;
    if (refused === undefined && this.#size + length > this.maxMessageSize) refused = ReceiptStatus.TooLarge;
    if (refused !== undefined) this.reset();
    return refused;
  }

  add(piece: Uint8Array): void {
    this.#pieces.push(piece);
    this.#size += piece.length;
  }

  /**
   * The whole message, `last` piece included, and a fresh start. Concatenating copies the message
   * once more; acceptable because it happens only on links that run a DHT, the only ones sent parts.
   */
  complete(last: Uint8Array): Uint8Array {
    if (this.#pieces.length === 0) return last;
    this.#pieces.push(last);
    const whole = Buffer.concat(this.#pieces, this.#size + last.length);
    this.reset();
    return whole;
  }

  /** Forgets the message in progress: it ended, was refused, or the stream ended before its final record. */
  reset(): void {
    this.#pieces = [];
    this.#size = 0;
    this.#dropped = undefined;
  }

  /** Forgets what was collected and skips the rest of the message; its final record is answered with `why`. */
  #drop(why: ReceiptStatus): false {
    this.#pieces = [];
    this.#size = 0;
    this.#dropped = why;
    return false;
  }
}
