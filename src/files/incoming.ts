/** The receiving end of one file transfer (docs/protocol.md §18.4). */
import { P2PError } from '../errors.js';
import { unref } from '../timers.js';
import { sha256Stream, type Sha256 } from '../wire/crypto.js';
import { FileKind, encodeFileMessage, type FileOffer } from '../wire/fileWire.js';
import { STALL_MS } from './outgoing.js';
import { hashInto, type PartialFile } from './source.js';
import { openPartial } from './storage.js';
import type { ReceivedFile, TransferProgress } from './types.js';

interface Settle {
  resolve: (file: ReceivedFile) => void;
  reject: (err: P2PError) => void;
}

/** The receiver reports what is on disk every this many bytes: the sender's window moves by it. */
export const WRITTEN_EVERY = 1024 * 1024;

/** What an incoming transfer needs of the node. */
export interface IncomingIo {
  send(peer: string, bytes: Uint8Array): Promise<void>;
  progress(step: TransferProgress): void;
}

/**
 * The file being received into `dir`: kept as a partial file of the offer's hash and size (see
 * storage.ts: a hidden file on disk, a Blob in the browser), so an interrupted transfer of the same
 * file resumes from the bytes already kept, and given its name once its SHA-256 matches.
 */
export class IncomingTransfer {
  #file: PartialFile | undefined;
  #hash: Sha256 | undefined;
  /** The next byte expected from the wire. */
  #expected = 0;
  /** Every byte before this is on disk. */
  #written = 0;
  #reported = 0;
  #startedAt = 0;
  /** Writes run one after another, in the order the chunks came. */
  #writes: Promise<void> = Promise.resolve();
  #ended = false;
  /** Ends a transfer whose sender stopped sending without a word (a hostile or stuck peer holds a file open otherwise). */
  #idle: NodeJS.Timeout | undefined;
  readonly #settled: Settle;
  readonly done: Promise<ReceivedFile>;

  constructor(
    private readonly io: IncomingIo,
    readonly peer: string,
    readonly offer: FileOffer,
    private readonly dir: string,
  ) {
    let settled!: Settle;
    this.done = new Promise<ReceivedFile>((resolve, reject) => (settled = { resolve, reject }));
    this.#settled = settled;
    // Whoever accepted awaits it; a transfer nobody awaits must not fail the process.
    this.done.catch(() => {});
  }

  /** Opens (or reopens) the partial file and asks the sender for what it lacks. */
  async start(): Promise<void> {
    try {
      this.#file = await openPartial(this.dir, this.offer);
      this.#hash = sha256Stream();
      const have = this.#file.have;
      if (have > 0) {
        // The bytes already here continue the running hash; the final check covers them too.
        await hashInto(this.#file.read, have, this.#hash);
      }
      this.#expected = this.#written = this.#reported = this.#startedAt = have;
    } catch (cause) {
      return this.fail(new P2PError('ERR_FILE_UNWRITABLE', `cannot write into ${this.dir}: ${(cause as Error).message}`, { cause }), 'write-failed');
    }
    this.report('active');
    this.awake();
    await this.io.send(this.peer, encodeFileMessage({ kind: FileKind.Accept, id: this.offer.id, offset: this.#startedAt }));
    if (this.#startedAt === this.offer.size) this.#writes = this.#writes.then(() => this.finish());
  }

  /** One chunk from the wire: hashed now, written in order. */
  chunk(offset: number, data: Uint8Array): void {
    if (this.#ended) return;
    if (!this.#file || offset !== this.#expected || offset + data.length > this.offer.size) {
      return void this.fail(new P2PError('ERR_FILE_CORRUPT', `chunk at ${offset} where ${this.#expected} was expected`), 'out-of-order');
    }
    const file = this.#file;
    this.awake();
    this.#hash!.update(data);
    this.#expected += data.length;
    const last = this.#expected === this.offer.size;
    this.#writes = this.#writes.then(async () => {
      if (this.#ended) return;
      await file.write(data, offset);
      this.#written = offset + data.length;
      if (this.#written - this.#reported >= WRITTEN_EVERY || last) this.tellWritten();
      if (last) await this.finish();
    }).catch((cause: Error) => this.fail(new P2PError('ERR_FILE_UNWRITABLE', `cannot write ${this.offer.name}: ${cause.message}`, { cause }), 'write-failed'));
  }

  /** Stops here: the partial file stays for a resume unless the data was bad. */
  fail(err: P2PError, reason?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#idle);
    if (reason) this.io.send(this.peer, encodeFileMessage({ kind: FileKind.Cancel, id: this.offer.id, reason })).catch(() => {});
    this.report('failed', undefined, err);
    this.#settled.reject(err);
    const bad = err.code === 'ERR_FILE_CORRUPT';
    void this.#writes.then(() => (bad ? this.#file?.discard() : this.#file?.close())).catch(() => {});
  }

  private awake(): void {
    clearTimeout(this.#idle);
    if (this.#expected < this.offer.size) {
      this.#idle = setTimeout(() => this.fail(new P2PError('ERR_FILE_INTERRUPTED', `nothing of ${this.offer.name} for ${STALL_MS / 1000} s`), 'timeout'), STALL_MS);
      unref(this.#idle);
    }
  }

  private tellWritten(): void {
    this.#reported = this.#written;
    this.report('active');
    this.io.send(this.peer, encodeFileMessage({ kind: FileKind.Written, id: this.offer.id, offset: this.#written })).catch(() => {});
  }

  private async finish(): Promise<void> {
    const digest = Buffer.from(this.#hash!.digest()).toString('hex');
    const { id, sha256, size, name } = this.offer;
    if (digest !== sha256) {
      await this.io.send(this.peer, encodeFileMessage({ kind: FileKind.Done, id, ok: false, reason: 'hash-mismatch' })).catch(() => {});
      return this.fail(new P2PError('ERR_FILE_CORRUPT', `${name}: SHA-256 ${digest.slice(0, 16)}… is not the offered ${sha256.slice(0, 16)}…; deleted`));
    }
    const path = await this.#file!.keep(name);
    this.#ended = true;
    clearTimeout(this.#idle);
    await this.io.send(this.peer, encodeFileMessage({ kind: FileKind.Done, id, ok: true })).catch(() => {});
    this.report('done', path);
    this.#settled.resolve({ id, from: this.peer, path, size, sha256, resumedFrom: this.#startedAt });
  }

  private report(state: TransferProgress['state'], path?: string, error?: P2PError): void {
    const { id, name, size } = this.offer;
    const step: TransferProgress = { id, peer: this.peer, direction: 'in', name, size, bytes: this.#written, startedAt: this.#startedAt, state, at: Date.now() };
    if (path) step.path = path;
    if (error) step.error = { code: error.code, message: error.message };
    this.io.progress(step);
  }
}
