/**
 * The browser build's `storage.ts`: files are sent from Blobs (a `File` from a file input or a drop)
 * and received into Blobs, which the browser keeps out of the JS heap (Chromium pages large ones to
 * disk). A partial file lives as long as the tab, so a transfer interrupted by a reconnect resumes.
 *
 * @module
 */
import { P2PError } from '../errors.js';
import type { FileOffer } from '../wire/fileWire.js';
import { blobSource, type BlobLike, type FileSource, type PartialFile } from './source.js';

/** A tab has no folders: `accept()` needs none. */
export const DEFAULT_DIR: string | undefined = 'downloads';

/** Bytes gathered in the heap before they join the Blob. */
const FLUSH_BYTES = 4 * 1024 * 1024;

interface Kept {
  blob: Blob;
  pending: Uint8Array[];
  pendingBytes: number;
}

/** Partial files of this tab, by hash and size (as the disk version names them). */
const partials = new Map<string, Kept>();

function flush(kept: Kept): void {
  if (kept.pending.length === 0) return;
  // A Blob made of a Blob and chunks refers to the old one's data rather than copying it.
  kept.blob = new Blob([kept.blob, ...kept.pending]);
  kept.pending = [];
  kept.pendingBytes = 0;
}

/** Opens what `sendFile` was given: a Blob or `File` (a tab cannot read paths). */
export async function openSource(from: string | BlobLike): Promise<FileSource> {
  if (typeof from === 'string') throw new P2PError('ERR_FILE_UNREADABLE', `a browser sends a Blob or File, not a path (${from})`);
  return blobSource(from);
}

/** The partial file of `offer`, kept in this tab. */
export async function openPartial(_dir: string, offer: FileOffer): Promise<PartialFile> {
  const key = `${offer.sha256}-${offer.size}`;
  const kept = partials.get(key) ?? { blob: new Blob([]), pending: [], pendingBytes: 0 };
  partials.set(key, kept);
  flush(kept);
  return {
    have: Math.min(kept.blob.size, offer.size),
    read: async (into, at) => {
      const bytes = new Uint8Array(await kept.blob.slice(at, at + into.length).arrayBuffer());
      into.set(bytes);
      return bytes.length;
    },
    write: async (data, at) => {
      if (at !== kept.blob.size + kept.pendingBytes) throw new Error(`write at ${at}, but ${kept.blob.size + kept.pendingBytes} bytes are kept`);
      // The chunk's buffer may be reused by the link: keep a copy.
      kept.pending.push(data.slice());
      kept.pendingBytes += data.length;
      if (kept.pendingBytes >= FLUSH_BYTES) flush(kept);
    },
    keep: async (name) => {
      flush(kept);
      partials.delete(key);
      return URL.createObjectURL(new File([kept.blob], name));
    },
    close: async () => flush(kept),
    discard: async () => void partials.delete(key),
  };
}
