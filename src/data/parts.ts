/**
 * Messages sent as parts (docs/protocol.md §13.3): both ends of a link that runs a DHT split long
 * messages into {@link RecordType.Part} records and a final message record, so that DHT records can
 * go between the pieces. This is the sender's split and the receiver's reassembly.
 *
 * @module
 */
import { HEADER_SIZE, PART_SIZE, RecordType, encodeHeader } from './framing.js';
import type { ReceiptStatus } from './receipts.js';

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
 * The pieces of the message in progress on a link. A message over the receiver's size limit is
 * dropped as soon as its pieces pass the limit, and its remaining pieces are skipped unread.
 *
 * @example
 * ```ts
 * const parts = new MessageParts(64 * 1024 * 1024);
 * if (parts.accepts(header.length, TOO_LARGE)) parts.add(piece); // for each part record
 * const whole = parts.complete(lastPiece);              // the message record that ends it
 * ```
 */
export class MessageParts {
  #pieces: Uint8Array[] = [];
  #size = 0;
  /** Why the message in progress was dropped (a receipt status), if it was: its pieces are skipped. */
  #dropped: ReceiptStatus | undefined;

  constructor(private readonly maxMessageSize: number) {}

  /** Bytes collected so far. */
  get size(): number {
    return this.#size;
  }

  /** Why the message in progress was dropped, if it was: its final record answers with this status. */
  get dropped(): ReceiptStatus | undefined {
    return this.#dropped;
  }

  /** Whether to keep a piece of `length` bytes; past the limit, drops the message as `tooLarge`. */
  accepts(length: number, tooLarge: ReceiptStatus): boolean {
    if (this.#dropped !== undefined) return false;
    if (this.#size + length <= this.maxMessageSize) return true;
    this.drop(tooLarge);
    return false;
  }

  add(piece: Uint8Array): void {
    this.#pieces.push(piece);
    this.#size += piece.length;
  }

  /**
   * The whole message, `last` piece included, and a fresh start. Concatenating copies the message
   * once more; it happens only on links that run a DHT, the only ones that send parts.
   */
  complete(last: Uint8Array): Uint8Array {
    if (this.#pieces.length === 0) return last;
    this.#pieces.push(last);
    const whole = Buffer.concat(this.#pieces, this.#size + last.length);
    this.reset();
    return whole;
  }

  /** Forgets the message in progress and skips the rest of it; `why` is the receipt status its final record gets. */
  drop(why: ReceiptStatus): void {
    this.#pieces = [];
    this.#size = 0;
    this.#dropped ??= why;
  }

  /** Forgets the message in progress: its final record came, or the stream ended. */
  reset(): void {
    this.#pieces = [];
    this.#size = 0;
    this.#dropped = undefined;
  }
}
