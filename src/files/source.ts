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
  return {
    name,
    size: blob.size,
    label: name,
    read: async (into, at) => {
      const bytes = new Uint8Array(await blob.slice(at, Math.min(blob.size, at + into.length)).arrayBuffer());
      into.set(bytes);
      return bytes.length;
    },
    close: async () => {},
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
