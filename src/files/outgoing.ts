/** The sending end of one file transfer (docs/protocol.md §18.3). */
import { P2PError } from '../errors.js';
import { randomBytes, sha256Stream } from '../wire/crypto.js';
import { CHUNK_HEADER, FileKind, encodeFileMessage, safeFileName, type FileMessage } from '../wire/fileWire.js';
import { hashInto, type BlobLike, type FileSource } from './source.js';
import { openSource } from './storage.js';
import type { SendFileOptions, SentFile, TransferProgress } from './types.js';

/**
 * File bytes per chunk message: with its header, exactly one 64 KiB part of a DHT link (the link's
 * PART_SIZE), so a chunk is never split into a part and a 25-byte tail, and DHT records wait behind
 * at most one chunk.
 */
export const CHUNK_BYTES = 64 * 1024 - CHUNK_HEADER;
/** Bytes a sender may be ahead of what the receiver reports on disk: the receiver's memory bound. */
export const WINDOW_BYTES = 8 * 1024 * 1024;

/** A transfer whose other end says nothing for this long (no chunk, no `written`, no verdict) ends. */
export const STALL_MS = 60_000;

/** What an outgoing transfer needs of the node. */
export interface OutgoingIo {
  /** Sends a file message on the peer's link; resolves once it fits the link's budget (or, with `receipt`, once the peer took it). */
  send(peer: string, bytes: Uint8Array, receipt?: boolean): Promise<void>;
  progress(step: TransferProgress): void;
  answerTimeoutMs: number;
}

type Reply = Extract<FileMessage, { kind: 2 | 3 | 5 | 6 | 7 }>;

/**
 * Offers a file, then streams it from the offset the receiver asks for, never more than
 * {@link WINDOW_BYTES} ahead of what it has on disk, and resolves once the receiver verified it.
 */
export class OutgoingTransfer {
  readonly id = Buffer.from(randomBytes(16)).toString('hex');
  #written = 0;
  #waiting: { resolve: (reply: Reply) => void; reject: (err: P2PError) => void; wants: (reply: Reply) => boolean }[] = [];
  #failed: P2PError | undefined;
  #step: Omit<TransferProgress, 'at' | 'state' | 'bytes'> | undefined;

  constructor(
    private readonly io: OutgoingIo,
    readonly peer: string,
    private readonly from: string | BlobLike,
    private readonly options: SendFileOptions = {},
  ) {}

  /** Runs the transfer to its end. */
  async run(): Promise<SentFile> {
    const file = await openSource(this.from);
    const name = this.options.name ?? file.name;
    if (!safeFileName(name)) {
      await file.close();
      throw new P2PError('ERR_INVALID_OPTION', `file name ${JSON.stringify(name).slice(0, 80)} is not one plain path component (no separators, control characters or leading dot)`);
    }
    const abort = (): unknown => this.fail(new P2PError('ERR_FILE_DECLINED', 'transfer cancelled'), 'cancelled');
    this.options.signal?.addEventListener('abort', abort, { once: true });
    try {
      const size = file.size;
      const sha256 = file.knownHash ?? (await hashOf(file));
      file.rememberHash(sha256);
      this.#step = { id: this.id, peer: this.peer, direction: 'out', name, size, startedAt: 0 };
      this.options.signal?.throwIfAborted();
      const answer = this.next((r) => r.kind === FileKind.Accept || r.kind === FileKind.Decline, this.io.answerTimeoutMs);
      try {
        await this.io.send(this.peer, encodeFileMessage({ kind: FileKind.Offer, id: this.id, name, size, sha256 }), true);
      } catch (cause) {
        const code = (cause as P2PError).code;
        if (code === 'ERR_NOT_DELIVERED') throw new P2PError('ERR_FILE_DECLINED', `${this.peer.slice(0, 12)}… does not take files`, { cause });
        throw cause;
      }
      this.report('offered', 0);
      const reply = await answer;
      if (reply.kind === FileKind.Decline) throw new P2PError('ERR_FILE_DECLINED', `${this.peer.slice(0, 12)}… declined ${name}: ${reply.reason}`);
      if (reply.kind !== FileKind.Accept || reply.offset > size) throw this.fail(new P2PError('ERR_FILE_DECLINED', 'the peer asked for bytes past the end'), 'out-of-order');
      this.#step.startedAt = reply.offset;
      this.#written = reply.offset;
      const done = this.next((r) => r.kind === FileKind.Done);
      const verdict = (): Promise<Reply> => Promise.race([done, this.next((r) => r.kind === FileKind.Done, STALL_MS)]);
      done.catch(() => {}); // awaited below; a failure while streaming is thrown by stream() first
      await this.stream(file, reply.offset, size);
      const result = await verdict();
      if (result.kind !== FileKind.Done || !result.ok) {
        file.rememberHash(undefined); // the next send hashes the bytes again
        throw new P2PError('ERR_FILE_CORRUPT', `${this.peer.slice(0, 12)}… found ${name} corrupt (${'reason' in result ? result.reason : 'no reason'})`);
      }
      this.report('done', size);
      return { id: this.id, size, sha256, resumedFrom: reply.offset };
    } catch (err) {
      const failure = this.#failed ?? asFileError(err);
      this.#failed = failure;
      if (this.#step) this.report('failed', this.#written, failure);
      throw failure;
    } finally {
      this.options.signal?.removeEventListener('abort', abort);
      this.#waiting = [];
      await file.close();
    }
  }

  /** A reply from the receiver: an answer, progress on disk, the verdict, or a cancel. */
  take(message: Reply): void {
    if (message.kind === FileKind.Written) {
      this.#written = Math.max(this.#written, message.offset);
    } else if (message.kind === FileKind.Cancel) {
      return void this.fail(new P2PError('ERR_FILE_DECLINED', `${this.peer.slice(0, 12)}… cancelled the transfer: ${message.reason}`));
    }
    const ready = this.#waiting.filter((w) => w.wants(message));
    this.#waiting = this.#waiting.filter((w) => !ready.includes(w));
    for (const waiting of ready) waiting.resolve(message);
  }

  /** Ends the transfer with `err`; tells the peer when there is a `reason` to give. */
  fail(err: P2PError, reason?: string): P2PError {
    this.#failed ??= err;
    if (reason) this.io.send(this.peer, encodeFileMessage({ kind: FileKind.Cancel, id: this.id, reason })).catch(() => {});
    for (const waiting of this.#waiting.splice(0)) waiting.reject(this.#failed);
    return this.#failed;
  }

  async stream(file: FileSource, from: number, size: number): Promise<void> {
    let at = from;
    while (at < size) {
      if (this.#failed) throw this.#failed;
      const length = Math.min(CHUNK_BYTES, size - at);
      const end = at + length;
      if (end - this.#written > WINDOW_BYTES) {
        await this.next((r) => r.kind === FileKind.Written && end - r.offset <= WINDOW_BYTES, STALL_MS);
        continue;
      }
      // The header goes in front of the bytes in one buffer: no copy between the disk and the link.
      const message = Buffer.allocUnsafe(CHUNK_HEADER + length);
      if ((await file.read(message.subarray(CHUNK_HEADER), at)) !== length) throw this.fail(new P2PError('ERR_FILE_UNREADABLE', `${file.label} shrank while being sent`), 'cancelled');
      encodeFileMessage({ kind: FileKind.Chunk, id: this.id, offset: at, data: message.subarray(CHUNK_HEADER) }, message);
      await this.io.send(this.peer, message);
      at += length;
      this.report('active', at);
    }
  }

  private next(wants: (reply: Reply) => boolean, timeoutMs?: number): Promise<Reply> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise<Reply>((resolve, reject) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => this.fail(new P2PError('ERR_FILE_DECLINED', `no answer from the peer within ${timeoutMs} ms`), 'timeout'), timeoutMs);
      const settle = <T>(fn: (value: T) => void) => (value: T) => (clearTimeout(timer), fn(value));
      this.#waiting.push({ resolve: settle(resolve), reject: settle(reject), wants });
    });
  }

  private report(state: TransferProgress['state'], bytes: number, error?: P2PError): void {
    const step: TransferProgress = { ...this.#step!, state, bytes, at: Date.now() };
    if (error) step.error = { code: error.code, message: error.message };
    this.io.progress(step);
  }
}

/** Hex SHA-256 of a whole file. */
async function hashOf(file: FileSource): Promise<string> {
  const hash = sha256Stream();
  if ((await hashInto(file.read, file.size, hash)) < file.size) throw new P2PError('ERR_FILE_UNREADABLE', `${file.label} shrank while being read`);
  return Buffer.from(hash.digest()).toString('hex');
}

function asFileError(err: unknown): P2PError {
  if (err instanceof P2PError) return err.code === 'ERR_PEER_CLOSED' || err.code === 'ERR_NOT_CONNECTED' ? new P2PError('ERR_FILE_INTERRUPTED', `transfer interrupted: ${err.message}; send it again to resume`, { cause: err }) : err;
  return new P2PError('ERR_FILE_UNREADABLE', (err as Error).message, { cause: err });
}
