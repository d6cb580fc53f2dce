/** The shapes file transfer hands out: progress, finished transfers and offers from peers. */
import type { ErrorCode } from '../errors.js';

/** One step of one transfer, either way, as `transfers$` reports it. */
export interface TransferProgress {
  /** The transfer's id (32 hex digits), shared by both ends. */
  id: string;
  peer: string;
  direction: 'out' | 'in';
  name: string;
  size: number;
  /** Bytes sent (out) or written to disk (in), counting those a resumed transfer already had. */
  bytes: number;
  /** Where a resumed transfer started. */
  startedAt: number;
  state: 'offered' | 'active' | 'done' | 'failed';
  /** When received: where the file is, once done (a file path in Node, a `blob:` URL in a browser). */
  path?: string;
  error?: { code: ErrorCode; message: string };
  /** When this step happened (ms since the epoch). */
  at: number;
}

/** A file the peer received and verified. */
export interface SentFile {
  id: string;
  size: number;
  sha256: string;
  /** Bytes the peer already had from an interrupted transfer of the same file. */
  resumedFrom: number;
}

/** A file received, verified and moved to its final name. */
export interface ReceivedFile {
  id: string;
  from: string;
  /** Where it is: a file path in Node, a `blob:` URL in a browser (the Blob's `File` has the name). */
  path: string;
  size: number;
  sha256: string;
  resumedFrom: number;
}

/** A file a peer offers, as `files$` hands it to the application to accept or decline. */
export interface IncomingFile {
  id: string;
  from: string;
  /** Checked: one safe path component. */
  name: string;
  size: number;
  sha256: string;
  /**
   * Receives the file into `dir` (default: the node's `files.dir`; a browser needs none, it receives
   * into a Blob); resolves once it is verified and in place, and rejects with ERR_FILE_INTERRUPTED,
   * ERR_FILE_CORRUPT or ERR_FILE_UNWRITABLE.
   */
  accept(dir?: string): Promise<ReceivedFile>;
  decline(): void;
}

/** What `sendFile` takes besides the peer and the path. */
export interface SendFileOptions {
  /** The name the peer sees (default: the path's last component, or the `File`'s name). */
  name?: string;
  /** Gives up (ERR_FILE_DECLINED, reason `cancelled`) and tells the peer so. */
  signal?: AbortSignal;
}

/** Where received files go, and how large they may be. */
export interface FileOptions {
  /** Accept every offer into this folder. Without it, offers go to `files$`, or are declined if nobody reads it. */
  dir?: string;
  /** Offers above this size are declined as `too-large`. Default 4 GiB. */
  maxBytes?: number;
  /** How long an offer waits for an answer before the sender gives up. Default 120 s. */
  answerTimeoutMs?: number;
}
