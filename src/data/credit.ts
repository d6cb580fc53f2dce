/**
 * Credit on a link that runs a DHT (docs/protocol.md §13.4): the receiver tells the sender how many
 * stream bytes it has read, and the sender keeps what it sent and was not yet read within a window.
 *
 * Why: a DHT record waits behind every byte ahead of it that the peer has not read, and those bytes
 * are not only in the channel's own buffer (`bufferedAmount`, bounded by the high-water mark) but
 * also in SCTP's queues and in the receiving binding's event queue, which nothing on the sending
 * side can see. Measured on loopback with a 512 KiB mark: a lookup crossing a connection that
 * carried a 64 MiB message waited 122 ms at the median (about 2 MiB at 17 MB/s), and no less with a
 * 256 KiB mark. Counting bytes from the write to the read bounds all of those queues together: with
 * a 128 KiB window the median was 10 ms. Pure: `PeerLink` does the IO.
 *
 * @module
 */
import { MAX_RECORD_LENGTH } from './framing.js';

/**
 * A receiver sends a credit record once the bytes it read and has not credited reach this (it may
 * send one sooner). A sender's window must be larger, or it could wait for a credit that never comes.
 */
export const CREDIT_STEP = 32 * 1024;

/** The payload length of a credit record: a u32 big-endian count of bytes read. */
export const CREDIT_RECORD_SIZE = 4;

/**
 * The sender's side: bytes handed to the channel against bytes the peer said it read.
 *
 * @example
 * ```ts
 * const window = new CreditWindow(256 * 1024);
 * window.sent(256 * 1024);
 * window.room; // 0: wait for a credit record
 * window.credit(64 * 1024);
 * window.room; // 65536
 * ```
 */
export class CreditWindow {
  #sent = 0;
  #credited = 0;

  constructor(readonly size: number) {
    if (!(size > CREDIT_STEP)) throw new RangeError(`a credit window must be larger than ${CREDIT_STEP} bytes`);
  }

  /** Bytes sent that the peer has not said it read. */
  get outstanding(): number {
    return this.#sent - this.#credited;
  }

  /** How many more bytes may be sent before the next credit. */
  get room(): number {
    return Math.max(0, this.size - this.outstanding);
  }

  /** Counts `bytes` handed to the channel. */
  sent(bytes: number): void {
    this.#sent += bytes;
  }

  /**
   * Counts a credit of `bytes` read; false if that is more than was ever sent (a confused or lying
   * peer: the credit is capped, so the window never opens past its size).
   */
  credit(bytes: number): boolean {
    const fits = this.#credited + bytes <= this.#sent;
    this.#credited = Math.min(this.#sent, this.#credited + bytes);
    return fits;
  }
}

/**
 * The receiver's side: bytes read and not yet credited.
 *
 * @example
 * ```ts
 * const grants = new CreditGrants();
 * grants.read(256 * 1024);
 * grants.take(); // 262144: send it in a credit record
 * grants.take(); // undefined: nothing to credit yet
 * ```
 */
export class CreditGrants {
  #owed = 0;

  /** Counts `bytes` of the stream read. */
  read(bytes: number): void {
    this.#owed += bytes;
  }

  /** The bytes to credit now, once at least {@link CREDIT_STEP} are owed; they count as credited. */
  take(): number | undefined {
    if (this.#owed < CREDIT_STEP) return undefined;
    const bytes = Math.min(this.#owed, MAX_RECORD_LENGTH);
    this.#owed -= bytes;
    return bytes;
  }
}

/** A credit record's payload. */
export function creditPayload(bytes: number): Uint8Array {
  const payload = Buffer.allocUnsafe(CREDIT_RECORD_SIZE);
  payload.writeUInt32BE(bytes, 0);
  return payload;
}

/** The byte count of a credit record's payload (its length already checked). */
export function readCredit(payload: Uint8Array): number {
  return Buffer.from(payload.buffer, payload.byteOffset, CREDIT_RECORD_SIZE).readUInt32BE(0);
}
