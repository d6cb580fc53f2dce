/**
 * Two nodes' FileTransfers joined by an in-memory link that a test can cut, tamper with or speak raw
 * messages on, for the file-transfer tests (test/fileTransfers.test.ts on disk, test/blobFiles.test.ts
 * on the browser's Blob storage).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { P2PError } from '../../src/errors.js';
import { FileTransfers } from '../../src/files/fileTransfers.js';
import type { FileOptions, TransferProgress } from '../../src/files/types.js';
import { silentLogger } from '../../src/log.js';

const dirs: string[] = [];
const opened: FileTransfers[] = [];
/** For afterEach: closing ends every transfer left in flight, so that no test leaves a file open. */
export function closePairs(): void {
  for (const transfers of opened.splice(0)) transfers.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
export const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'p2p-files-'));
  dirs.push(dir);
  return dir;
};
export const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Two nodes' transfers, `a` and `b`, over a link that delivers each message on a later turn, in order. */
export function pair(bOptions: FileOptions = {}, aOptions: FileOptions = {}) {
  let cut = false;
  const taps: ((from: string, bytes: Uint8Array) => Uint8Array | undefined)[] = [];
  const make = (self: string, options: FileOptions): FileTransfers =>
    new FileTransfers(
      {
        send: (peer, bytes) => {
          if (cut) return Promise.reject(new P2PError('ERR_PEER_CLOSED', 'link is closed'));
          let delivered: Uint8Array | undefined = new Uint8Array(bytes); // what arrives is a copy, as over a wire
          for (const tap of taps) delivered = delivered && tap(self, delivered);
          if (delivered) setImmediate(() => cut || (peer === 'a' ? a : b).receive(self, delivered!));
          return Promise.resolve();
        },
      },
      options,
      silentLogger,
    );
  const a = make('a', aOptions);
  const b = make('b', bOptions);
  opened.push(a, b);
  const steps: TransferProgress[] = [];
  a.transfers$.subscribe((s) => steps.push(s));
  b.transfers$.subscribe((s) => steps.push(s));
  const closeLink = (): void => {
    cut = true;
    a.peerClosed('b');
    b.peerClosed('a');
  };
  return { a, b, steps, taps, closeLink, reopen: () => (cut = false) };
}

export function file(size: number): { path: string; bytes: Buffer } {
  const bytes = randomBytes(size);
  const path = join(tempDir(), 'data.bin');
  writeFileSync(path, bytes);
  return { path, bytes };
}

/** The real timer, kept from before any test fakes them, so that waiting works under fake timers too. */
const realSetTimeout = globalThis.setTimeout;

/** Waits, on the real timer, until `check` holds; throws after `ms`. */
export async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => realSetTimeout(resolve, 5));
  }
}
