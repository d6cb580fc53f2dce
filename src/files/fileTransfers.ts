/** A node's file transfers, both ways, over its peers' links (docs/protocol.md §18). */
import { Observable, Subject } from 'rxjs';
import { P2PError } from '../errors.js';
import type { Logger } from '../log.js';
import { isRecord } from '../wire/protocol.js';
import { FileKind, decodeFileMessage, encodeFileMessage, safeFileName, type FileOffer, type FileReason } from '../wire/fileWire.js';
import { IncomingTransfer } from './incoming.js';
import { OutgoingTransfer } from './outgoing.js';
import type { BlobLike } from './source.js';
import { DEFAULT_DIR } from './storage.js';
import type { FileOptions, IncomingFile, ReceivedFile, SendFileOptions, SentFile, TransferProgress } from './types.js';

export const DEFAULT_MAX_FILE_BYTES = 4 * 1024 ** 3;
/** Files one peer may have in flight to this node at once (each holds an open file); more are declined `busy`. */
export const MAX_INCOMING_PER_PEER = 4;
export const DEFAULT_ANSWER_TIMEOUT_MS = 120_000;

/** What is wrong with `files` options, if anything, for an ERR_INVALID_OPTION. */
export function fileOptionsProblem(files: unknown): string | undefined {
  if (files === undefined) return undefined;
  if (!isRecord(files)) return 'files must be an object such as { dir: "./downloads" }';
  const { dir, maxBytes, answerTimeoutMs, ...rest } = files as FileOptions;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) return `files.${unknown} is not an option (dir, maxBytes, answerTimeoutMs)`;
  if (dir !== undefined && (typeof dir !== 'string' || dir === '')) return 'files.dir must be a folder path';
  if (maxBytes !== undefined && !(Number.isSafeInteger(maxBytes) && maxBytes > 0)) return 'files.maxBytes must be a positive integer';
  if (answerTimeoutMs !== undefined && !(typeof answerTimeoutMs === 'number' && answerTimeoutMs > 0 && Number.isFinite(answerTimeoutMs))) return 'files.answerTimeoutMs must be a positive number of ms';
  return undefined;
}

/** How file transfer reaches the peers: a link's send with the file flag. */
export interface FileLinks {
  send(peer: string, bytes: Uint8Array, receipt?: boolean): Promise<void>;
}

/**
 * Every transfer of one node: offers it makes (`send`), offers it gets (`files$`, or accepted into
 * `files.dir`), and each step of each (`transfers$`). Feed it the file messages of every link
 * ({@link receive}) and the peers that go away ({@link peerClosed}).
 *
 * @example
 * ```ts
 * const files = new FileTransfers(links, { dir: '/tmp/inbox' }, logger);
 * dataPlane.takeFiles((peer, bytes) => files.receive(peer, bytes));
 * const sent = await files.send(peerId, './photo.jpg');
 * ```
 */
export class FileTransfers {
  readonly #outgoing = new Map<string, OutgoingTransfer>();
  readonly #incoming = new Map<string, IncomingTransfer>();
  /** Offers handed to `files$` and not yet answered. */
  readonly #offered = new Map<string, { peer: string; offer: FileOffer }>();
  readonly #offers = new Subject<IncomingFile>();
  readonly #progress = new Subject<TransferProgress>();
  #readers = 0;
  readonly files$: Observable<IncomingFile>;
  readonly transfers$: Observable<TransferProgress>;
  readonly #maxBytes: number;
  readonly #answerTimeoutMs: number;

  constructor(
    private readonly links: FileLinks,
    private readonly options: FileOptions,
    private readonly log: Logger,
  ) {
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.#answerTimeoutMs = options.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS;
    this.transfers$ = this.#progress.asObservable();
    this.files$ = new Observable<IncomingFile>((subscriber) => {
      this.#readers++;
      const subscription = this.#offers.subscribe(subscriber);
      return () => {
        this.#readers--;
        subscription.unsubscribe();
      };
    });
  }

  /** Offers the file at `from` (a path, or a Blob) to `peer` and sends it once accepted; resolves when the peer verified it. */
  async send(peer: string, from: string | BlobLike, options?: SendFileOptions): Promise<SentFile> {
    const transfer = new OutgoingTransfer({ send: (to, bytes, receipt) => this.links.send(to, bytes, receipt), progress: (step) => this.#progress.next(step), answerTimeoutMs: this.#answerTimeoutMs }, peer, from, options);
    this.#outgoing.set(transfer.id, transfer);
    try {
      return await transfer.run();
    } finally {
      this.#outgoing.delete(transfer.id);
    }
  }

  /** One file message from `peer`'s link; false for one that is not a file message at all. */
  receive(peer: string, bytes: Uint8Array): boolean {
    const message = decodeFileMessage(bytes);
    if (!message) {
      this.log.warn({ peer, size: bytes.length }, 'dropping malformed file message');
      return false;
    }
    switch (message.kind) {
      case FileKind.Offer:
        this.#onOffer(peer, message);
        return true;
      case FileKind.Chunk: {
        const transfer = this.#incoming.get(message.id);
        if (transfer?.peer === peer) transfer.chunk(message.offset, message.data);
        else this.#say(peer, { kind: FileKind.Cancel, id: message.id, reason: 'cancelled' });
        return true;
      }
      case FileKind.Cancel: {
        const incoming = this.#incoming.get(message.id);
        if (incoming?.peer === peer) incoming.fail(new P2PError('ERR_FILE_INTERRUPTED', `the sender cancelled ${incoming.offer.name}: ${message.reason}`));
        if (this.#offered.get(message.id)?.peer === peer) this.#offered.delete(message.id);
        this.#outgoingOf(peer, message.id)?.take(message);
        return true;
      }
      default:
        this.#outgoingOf(peer, message.id)?.take(message);
        return true;
    }
  }

  /** The link to `peer` closed: its transfers stop, and a partial file waits for a resume. */
  peerClosed(peer: string): void {
    const why = (): P2PError => new P2PError('ERR_FILE_INTERRUPTED', `the connection to ${peer.slice(0, 12)}… closed mid-transfer; send the file again to resume`);
    for (const transfer of this.#outgoing.values()) if (transfer.peer === peer) transfer.fail(why());
    for (const transfer of this.#incoming.values()) if (transfer.peer === peer) transfer.fail(why());
    for (const [id, offered] of this.#offered) if (offered.peer === peer) this.#offered.delete(id);
  }

  /** Stops every transfer (the node is stopping). */
  close(): void {
    for (const peer of new Set([...this.#outgoing.values(), ...this.#incoming.values()].map((t) => t.peer))) this.peerClosed(peer);
    this.#offers.complete();
    this.#progress.complete();
  }

  #outgoingOf(peer: string, id: string): OutgoingTransfer | undefined {
    const transfer = this.#outgoing.get(id);
    return transfer?.peer === peer ? transfer : undefined;
  }

  #onOffer(peer: string, offer: FileOffer): void {
    const decline = (reason: FileReason): void => {
      this.log.info({ peer, name: offer.name.slice(0, 100), size: offer.size, reason }, 'declining a file');
      this.#say(peer, { kind: FileKind.Decline, id: offer.id, reason });
    };
    if (!safeFileName(offer.name)) return decline('bad-name');
    if (offer.size > this.#maxBytes) return decline('too-large');
    if (this.#incoming.has(offer.id) || this.#offered.has(offer.id)) return;
    const fromPeer = [...this.#incoming.values(), ...this.#offered.values()].filter((t) => t.peer === peer);
    // The same file twice at once would share one partial file.
    if (fromPeer.length >= MAX_INCOMING_PER_PEER || [...this.#incoming.values()].some((t) => t.offer.sha256 === offer.sha256 && t.offer.size === offer.size)) return decline('busy');
    if (this.options.dir !== undefined) return void this.#accept(peer, offer, this.options.dir).catch(() => {});
    if (this.#readers === 0) return decline('no-receiver');
    this.#offered.set(offer.id, { peer, offer });
    const answered = (): boolean => this.#offered.delete(offer.id);
    this.#offers.next({
      ...offer,
      from: peer,
      accept: (dir) => {
        const into = dir ?? this.options.dir ?? DEFAULT_DIR;
        if (into === undefined) return Promise.reject(new P2PError('ERR_INVALID_OPTION', 'accept() needs a folder: pass one, or start the node with files.dir'));
        if (!answered()) return Promise.reject(new P2PError('ERR_FILE_INTERRUPTED', `the offer of ${offer.name} was already answered, cancelled, or its peer left`));
        return this.#accept(peer, offer, into);
      },
      decline: () => {
        if (answered()) decline('declined');
      },
    });
  }

  async #accept(peer: string, offer: FileOffer, dir: string): Promise<ReceivedFile> {
    const transfer = new IncomingTransfer({ send: (to, bytes) => this.links.send(to, bytes), progress: (step) => this.#progress.next(step) }, peer, offer, dir);
    this.#incoming.set(offer.id, transfer);
    void transfer.done.finally(() => this.#incoming.delete(offer.id)).catch(() => {});
    await transfer.start();
    return transfer.done;
  }

  #say(peer: string, message: Parameters<typeof encodeFileMessage>[0]): void {
    this.links.send(peer, encodeFileMessage(message)).catch(() => {});
  }
}
