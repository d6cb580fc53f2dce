/**
 * Wire format of the peer data channel. The channel is reliable and ordered, so its messages are
 * read as one byte stream whose message boundaries carry no meaning. The stream is a sequence of
 * records:
 *
 * | Offset | Size | Field  | Meaning                                                               |
 * | ------ | ---- | ------ | --------------------------------------------------------------------- |
 * | 0      | 1    | type   | {@link RecordType}; records of unknown types are skipped              |
 * | 1      | 1    | flags  | {@link FLAG_TEXT}, {@link FLAG_RECEIPT}; other bits: record skipped  |
 * | 2      | 4    | length | u32 big-endian payload length                                         |
 * | 6      | n    | payload| an application message (or its last piece, after parts), or control    |
 *
 * Why a stream rather than one record per channel message: the binding charges ~100 µs per `send()`
 * and refuses channel messages over 256 KiB, so the sender packs whatever is queued into channel
 * messages of up to 256 KiB. Many small messages then share one `send()`, and a large message costs
 * one `send()` per 256 KiB with no per-chunk header. Every header is self-delimiting, so a reader
 * never loses its place, whatever it skips. Between two nodes that run a DHT, a message longer than
 * {@link PART_SIZE} goes as {@link RecordType.Part} records and a final message record, so that DHT
 * records can go between its pieces (docs/protocol.md §13.3).
 *
 * @module
 */

/** The kinds of record carried on the channel; new kinds get their own value here. */
export const RecordType = {
  /** An application message handed to `PeerLink.send`. */
  Message: 0,
  /** Empty: "still here", sent by a link that has sent nothing else for a heartbeat interval. */
  Heartbeat: 1,
  /** Empty: "everything I accepted precedes this; I accept no more". Answered by {@link RecordType.EndAck}. */
  End: 2,
  /** Empty: "your End arrived, and everything I accepted precedes this": the far side may close. */
  EndAck: 3,
  /** One byte: what became of the oldest message still waiting for a receipt (see `receipts.ts`). */
  Receipt: 4,
  /** One DHT message (docs/protocol.md §14), UTF-8 JSON of at most {@link MAX_DHT_RECORD} bytes; sent ahead of queued messages. */
  Dht: 5,
  /** What the sender can read: a bitmask ({@link FEATURE_PARTS}), sent first by a link that runs a DHT. */
  Features: 6,
  /** A leading piece of a message whose last piece is the next {@link RecordType.Message} record. */
  Part: 7,
  /** Four bytes, u32 big-endian: how many more stream bytes the sender read (see `credit.ts`); sent ahead. */
  Credit: 8,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

export const FLAG_TEXT = 0x01;
/** On a message: the sender wants a {@link RecordType.Receipt} for it. */
export const FLAG_RECEIPT = 0x02;
/**
 * On a binary message: it belongs to file transfer (docs/protocol.md §18), not to the application's
 * messages. A reader that predates it skips the message as having an unknown flag (and says so in a
 * receipt), so a file offer to an older node fails at once instead of surfacing as data.
 */
export const FLAG_FILE = 0x04;
export const KNOWN_FLAGS = FLAG_TEXT | FLAG_RECEIPT | FLAG_FILE;

/** In byte 0 of a {@link RecordType.Features} record: "I reassemble messages sent as parts". */
export const FEATURE_PARTS = 0x01;
/** In byte 0 of a {@link RecordType.Features} record: "I send credit records for the bytes I read". */
export const FEATURE_CREDIT = 0x02;
/** Largest features record a reader takes: the bitmask may grow, never past this. */
export const MAX_FEATURES_RECORD = 64;
/**
 * The piece size of a message sent as parts. A DHT record queued behind a message waits for at most
 * the piece being sent; 64 KiB costs a header per 64 KiB (0.01%) and one queue entry each.
 */
export const PART_SIZE = 64 * 1024;

export const HEADER_SIZE = 6;
/** Largest DHT record a link accepts: a routed signal carries an envelope of up to 16 KiB. */
export const MAX_DHT_RECORD = 64 * 1024;
/** Largest payload the u32 length field can announce. */
export const MAX_RECORD_LENGTH = 0xffff_ffff;

export interface RecordHeader {
  type: number;
  flags: number;
  length: number;
}

/** The 6-byte header of a record. */
export function encodeHeader(type: RecordType, flags: number, length: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_SIZE);
  header[0] = type;
  header[1] = flags;
  header.writeUInt32BE(length, 2);
  return header;
}

function decodeHeader(bytes: Uint8Array, at: number): RecordHeader {
  const length = ((bytes[at + 2]! << 24) | (bytes[at + 3]! << 16) | (bytes[at + 4]! << 8) | bytes[at + 5]!) >>> 0;
  return { type: bytes[at]!, flags: bytes[at + 1]!, length };
}

/** A record being read across channel messages; `buffer` is undefined when it is being skipped. */
interface Pending {
  header: RecordHeader;
  buffer: Uint8Array | undefined;
  filled: number;
}

/**
 * Splits the channel's byte stream back into records. `accept` sees each header as soon as it is
 * complete and decides whether the payload is kept (a refused payload is skipped without being
 * buffered); `onRecord` receives every accepted payload in order.
 *
 * A payload that arrived inside one channel message is delivered as a view of it when it fills at
 * least a quarter of that message, otherwise as a copy: a message pins at most four times its size,
 * and a small one never pins a 256 KiB buffer. (A quarter, not a half, so that 64 KiB messages,
 * packed four to a channel message, are not copied.)
 *
 * @example
 * ```ts
 * const reader = new RecordReader((h) => h.type === RecordType.Message, (h, payload) => handle(h, payload));
 * channel.onmessage = ({ data }) => reader.push(new Uint8Array(data));
 * ```
 */
export class RecordReader {
  readonly #header = new Uint8Array(HEADER_SIZE);
  #headerFill = 0;
  #pending: Pending | undefined;

  constructor(
    private readonly accept: (header: RecordHeader) => boolean,
    private readonly onRecord: (header: RecordHeader, payload: Uint8Array) => void,
  ) {}

  /** Feeds the next channel message; any byte sequence is valid input. */
  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      const pending = this.#pending;
      if (pending) {
        at = this.#fill(pending, chunk, at);
        continue;
      }
      let header: RecordHeader;
      if (this.#headerFill === 0 && chunk.length - at >= HEADER_SIZE) {
        header = decodeHeader(chunk, at);
        at += HEADER_SIZE;
      } else {
        const take = Math.min(HEADER_SIZE - this.#headerFill, chunk.length - at);
        this.#header.set(chunk.subarray(at, at + take), this.#headerFill);
        this.#headerFill += take;
        at += take;
        if (this.#headerFill < HEADER_SIZE) return;
        this.#headerFill = 0;
        header = decodeHeader(this.#header, 0);
      }
      const keep = this.accept(header);
      if (chunk.length - at >= header.length) {
        if (keep) this.onRecord(header, sliceOf(chunk, at, header.length));
        at += header.length;
      } else {
        // allocUnsafeSlow skips zero-filling: the record is delivered only once every byte is written.
        this.#pending = { header, buffer: keep ? Buffer.allocUnsafeSlow(header.length) : undefined, filled: 0 };
      }
    }
  }

  #fill(pending: Pending, chunk: Uint8Array, at: number): number {
    const take = Math.min(pending.header.length - pending.filled, chunk.length - at);
    pending.buffer?.set(chunk.subarray(at, at + take), pending.filled);
    pending.filled += take;
    if (pending.filled === pending.header.length) {
      this.#pending = undefined;
      if (pending.buffer) this.onRecord(pending.header, pending.buffer);
    }
    return at + take;
  }
}

function sliceOf(chunk: Uint8Array, at: number, length: number): Uint8Array {
  const view = chunk.subarray(at, at + length);
  return length * 4 >= chunk.length ? view : Buffer.from(view);
}
