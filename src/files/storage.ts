/**
 * Files on disk: what is sent is read from a path (or a Blob), what is received is kept as a hidden
 * partial file named by the offer's hash and size, so a new offer of the same file resumes from the
 * bytes already there. `storage.browser.ts` is this file in the browser build.
 *
 * @module
 */
import { open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { P2PError } from '../errors.js';
import type { FileOffer } from '../wire/fileWire.js';
import { blobSource, type BlobLike, type FileSource, type PartialFile } from './source.js';

/** Where `accept()` puts files when given no folder: nowhere (Node has no default download folder). */
export const DEFAULT_DIR: string | undefined = undefined;

/** A partial file untouched this long is given up: no sender came back to resume it. */
const PARTIAL_KEPT_MS = 7 * 24 * 3600_000;
const PARTIAL_NAME = /^\.[0-9a-f]{32}-\d+\.p2p-partial$/;
/** Folders swept of stale partial files by this process (once each). */
const swept = new Set<string>();

/** Deletes the partial files in `dir` that nobody resumed for {@link PARTIAL_KEPT_MS}; never fails. */
async function sweepStalePartials(dir: string): Promise<void> {
  const now = Date.now();
  if (swept.has(dir)) return;
  swept.add(dir);
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((n) => PARTIAL_NAME.test(n))) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info && now - info.mtimeMs > PARTIAL_KEPT_MS) await unlink(path).catch(() => {});
  }
}

/** Hashes of files sent before, by path and what says the file is unchanged (device, inode, size, mtime). */
const fileHashes = new Map<string, string>();
const FILE_HASHES_KEPT = 256;

/** Opens what `sendFile` was given: a path to a regular file, or a Blob. */
export async function openSource(from: string | BlobLike): Promise<FileSource> {
  if (typeof from !== 'string') return blobSource(from);
  const file = await open(from, 'r').catch((cause: Error) => {
    throw new P2PError('ERR_FILE_UNREADABLE', `cannot read ${from}: ${cause.message}`, { cause });
  });
  const info = await file.stat();
  if (!info.isFile()) {
    await file.close();
    throw new P2PError('ERR_FILE_UNREADABLE', `${from} is not a regular file`);
  }
  const version = `${from}\0${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`;
  return {
    name: basename(from),
    size: info.size,
    label: from,
    read: async (into, at) => (await file.read(into, 0, into.length, at)).bytesRead,
    close: () => file.close(),
    knownHash: fileHashes.get(version),
    rememberHash: (sha256) => {
      fileHashes.delete(version);
      if (sha256 === undefined) return;
      fileHashes.set(version, sha256);
      if (fileHashes.size > FILE_HASHES_KEPT) fileHashes.delete(fileHashes.keys().next().value as string);
    },
  };
}

/** The partial file of `offer` in `dir`, created or reopened; the first in a folder sweeps it of stale ones. */
export async function openPartial(dir: string, offer: FileOffer): Promise<PartialFile> {
  await sweepStalePartials(dir);
  const path = join(dir, `.${offer.sha256.slice(0, 32)}-${offer.size}.p2p-partial`);
  const have = await stat(path).then((s) => Math.min(s.size, offer.size), () => 0);
  const file = await open(path, have > 0 ? 'r+' : 'w+');
  let isOpen = true;
  const close = async (): Promise<void> => {
    if (isOpen) await file.close();
    isOpen = false;
  };
  return {
    have,
    read: async (into, at) => (await file.read(into, 0, into.length, at)).bytesRead,
    write: async (data, at) => void (await file.write(data, 0, data.length, at)),
    keep: async (name) => {
      await close();
      const final = await freeName(dir, name);
      await rename(path, final);
      return final;
    },
    close,
    discard: async () => {
      await close();
      await unlink(path).catch(() => {});
    },
  };
}

/** `name` in `dir`, or `name (1).ext`, `name (2).ext`…: never over an existing file. */
async function freeName(dir: string, name: string): Promise<string> {
  const ext = extname(name);
  const stem = name.slice(0, name.length - ext.length);
  for (let n = 0; n < 10_000; n++) {
    const path = join(dir, n === 0 ? name : `${stem} (${n})${ext}`);
    const taken = await stat(path).then(() => true, () => false);
    if (!taken) return path;
  }
  throw new P2PError('ERR_FILE_UNWRITABLE', `no free name for ${name} in ${dir}`);
}
