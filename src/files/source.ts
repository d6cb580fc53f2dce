/** Where file bytes come from and go to: a file on disk in Node, a Blob anywhere (docs/protocol.md §18 is the same for both). */
import type { Sha256 } from '../wire/crypto.js';

/** A file being sent: its bytes, read at any offset. */
export interface FileSource {
  /** The name the peer sees unless `SendFileOptions.name` says otherwise. */
  readonly name: string;
  readonly size: number;
  /** What to call it in an error message: a path, or the Blob's name. */
  readonly label: string;
  /** Reads up to `into.length` bytes at `at`; resolves with how many there were. */
  read(into: Uint8Array, at: number): Promise<number>;
  close(): Promise<void>;
  /**
   * The hex SHA-256 of these very bytes if an earlier send computed it (the same Blob, or the same
   * file unchanged since), so that sending again, to resume or to another peer, does not read it all
   * again first. A wrong one costs nothing but the transfer: the receiver checks every byte.
   */
  readonly knownHash: string | undefined;
  /** Keeps the hash just computed for {@link knownHash}; undefined forgets it (the receiver found it wrong). */
  rememberHash(sha256: string | undefined): void;
}

/** A file being received: the bytes kept so far (resumable), then its final place. */
export interface PartialFile {
  /** Bytes already there from an earlier, interrupted transfer of the same file. */
  readonly have: number;
  read(into: Uint8Array, at: number): Promise<number>;
  write(data: Uint8Array, at: number): Promise<void>;
  /** Puts the finished file under a free form of `name`; resolves with where it is (a path, or an object URL). */
  keep(name: string): Promise<string>;
  /** Closes it and keeps the bytes for a resume. */
  close(): Promise<void>;
  /** Closes it and forgets the bytes (they were bad). */
  discard(): Promise<void>;
}

/** How much of a Blob one read fetches. */
const BLOB_READ_BYTES = 1024 * 1024;

/** Hashes of Blobs sent before: a Blob's bytes never change, so its hash is its own for life. */
const blobHashes = new WeakMap<BlobLike, string>();

/** The parts of a Blob (or a browser `File`) a {@link blobSource} reads. */
export interface BlobLike {
  readonly size: number;
  readonly name?: string;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

/**
 * A Blob as a file to send, read a chunk at a time (never whole into memory).
 *
 * @example
 * ```ts
 * const source = blobSource(new Blob([bytes]), 'notes.txt');
 * ```
 */
export function blobSource(blob: BlobLike, name = blob.name ?? 'file'): FileSource {
  // Each Blob read is an asynchronous round trip to the browser's blob store: read 1 MiB at a time
  // and hand out chunks from it, rather than one read per 64 KiB chunk.
  let window: { at: number; bytes: Uint8Array } | undefined;
  return {
    name,
    size: blob.size,
    label: name,
    read: async (into, at) => {
      const end = Math.min(blob.size, at + into.length);
      if (!window || at < window.at || end > window.at + window.bytes.length) {
        const until = Math.min(blob.size, Math.max(end, at + BLOB_READ_BYTES));
        window = { at, bytes: new Uint8Array(await blob.slice(at, until).arrayBuffer()) };
      }
      const bytes = window.bytes.subarray(at - window.at, end - window.at);
      into.set(bytes);
      return bytes.length;
    },
    close: async () => void (window = undefined),
    knownHash: blobHashes.get(blob),
    rememberHash: (sha256) => void (sha256 === undefined ? blobHashes.delete(blob) : blobHashes.set(blob, sha256)),
  };
}

/** Feeds the first `size` bytes of `read` to `hash`, in pieces of at most 1 MiB; resolves with how many there were. */
export async function hashInto(read: (into: Uint8Array, at: number) => Promise<number>, size: number, hash: Sha256): Promise<number> {
  const buffer = new Uint8Array(Math.min(size, 1024 * 1024));
  let at = 0;
  while (at < size) {
    const got = await read(buffer.subarray(0, Math.min(buffer.length, size - at)), at);
    if (got === 0) break;
    hash.update(buffer.subarray(0, got));
    at += got;
  }
  return at;
}
