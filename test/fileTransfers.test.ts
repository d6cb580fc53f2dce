/**
 * The file-transfer protocol end to end between two FileTransfers on a real file system, joined by an
 * in-memory link that a test can cut, tamper with or speak raw messages on. test/files.test.ts runs
 * the same over real WebRTC.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { P2PError } from '../src/errors.js';
import { FileTransfers } from '../src/files/fileTransfers.js';
import { STALL_MS, WINDOW_BYTES } from '../src/files/outgoing.js';
import type { FileOptions } from '../src/files/types.js';
import { silentLogger } from '../src/log.js';
import { FileKind, decodeFileMessage, encodeFileMessage } from '../src/wire/fileWire.js';
import { closePairs, file, pair, sha, tempDir, until } from './support/filePair.js';

afterEach(closePairs);

describe('file transfer between two nodes', () => {
  it('offers, streams and verifies a file into the download folder, reporting each step on both sides', async () => {
    const inbox = tempDir();
    const { a, steps } = pair({ dir: inbox });
    const { path, bytes } = file(3 * 1024 * 1024 + 17);
    const sent = await a.send('b', path);
    expect(sent).toMatchObject({ size: bytes.length, sha256: sha(bytes), resumedFrom: 0 });
    await until(() => steps.some((s) => s.direction === 'in' && s.state === 'done'));
    expect(readFileSync(join(inbox, 'data.bin')).equals(bytes)).toBe(true);
    expect(readdirSync(inbox)).toEqual(['data.bin']);
    const out = steps.filter((s) => s.direction === 'out');
    expect(out[0]).toMatchObject({ state: 'offered', bytes: 0, name: 'data.bin', size: bytes.length, peer: 'b' });
    expect(out.at(-1)).toMatchObject({ state: 'done', bytes: bytes.length });
    expect(steps.filter((s) => s.direction === 'in').at(-1)).toMatchObject({ state: 'done', peer: 'a', path: join(inbox, 'data.bin') });
  });

  it('sends a Blob as well as a path: its name, or the File’s, is what the receiver sees', async () => {
    const inbox = tempDir();
    const { a } = pair({ dir: inbox });
    const bytes = randomBytes(200_000);
    expect((await a.send('b', new Blob([bytes]), { name: 'from-memory.bin' })).sha256).toBe(sha(bytes));
    await a.send('b', new File([bytes], 'named.bin'));
    await until(() => readdirSync(inbox).length === 2);
    expect(readdirSync(inbox).sort()).toEqual(['from-memory.bin', 'named.bin']);
    expect(readFileSync(join(inbox, 'named.bin')).equals(bytes)).toBe(true);
  });

  it('hashes a file once while it stays unchanged: a send again trusts the hash, which the receiver still checks, and forgets it once found wrong', async () => {
    const inbox = tempDir();
    const { a } = pair({ dir: inbox });
    const { path, bytes } = file(300_000);
    const mtime = new Date(1_700_000_000_000); // a whole second, so that setting it again restores it exactly
    utimesSync(path, mtime, mtime);
    await a.send('b', path);
    // Other bytes, same size, same inode, and the old mtime put back: it looks unchanged, so the
    // sender offers its remembered hash, and the receiver refuses what does not match it.
    writeFileSync(path, randomBytes(bytes.length));
    utimesSync(path, mtime, mtime);
    await expect(a.send('b', path)).rejects.toMatchObject({ code: 'ERR_FILE_CORRUPT' });
    // That verdict drops the remembered hash: the same (unchanged-looking) file is hashed again and arrives.
    expect((await a.send('b', path)).sha256).toBe(sha(readFileSync(path)));
    // A changed mtime is a changed file: hashed again, and sent whole.
    const fresh = randomBytes(bytes.length);
    writeFileSync(path, fresh);
    utimesSync(path, mtime, new Date(mtime.getTime() + 2000));
    expect((await a.send('b', path)).sha256).toBe(sha(fresh));
  });

  it('deletes partial files nobody resumed for a week from a folder it receives into, and keeps newer ones', async () => {
    const inbox = tempDir();
    const stale = join(inbox, `.${'a'.repeat(32)}-100.p2p-partial`);
    const fresh = join(inbox, `.${'b'.repeat(32)}-100.p2p-partial`);
    const other = join(inbox, 'notes.txt');
    for (const path of [stale, fresh, other]) writeFileSync(path, 'x');
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600_000);
    utimesSync(stale, eightDaysAgo, eightDaysAgo);
    utimesSync(other, eightDaysAgo, eightDaysAgo);
    const { a } = pair({ dir: inbox });
    await a.send('b', file(1000).path);
    await until(() => readdirSync(inbox).includes('data.bin'));
    expect(readdirSync(inbox).sort()).toEqual([fresh, other, join(inbox, 'data.bin')].map((p) => p.slice(inbox.length + 1)).sort());
  });

  it('never gives a file an existing name: the second copy is "name (1).ext"', async () => {
    const inbox = tempDir();
    const { a } = pair({ dir: inbox });
    const { path } = file(1000);
    await a.send('b', path);
    await a.send('b', path, { name: 'data.bin' });
    await until(() => readdirSync(inbox).length === 2);
    expect(readdirSync(inbox).sort()).toEqual(['data (1).bin', 'data.bin']);
  });

  it('lets the application accept into a folder of its choice, or decline', async () => {
    const { a, b } = pair();
    const inbox = tempDir();
    const { path, bytes } = file(100_000);
    let offers = 0;
    b.files$.subscribe((offer) => {
      expect(offer).toMatchObject({ from: 'a', name: offers === 0 ? 'data.bin' : 'second.bin', size: bytes.length, sha256: sha(bytes) });
      if (offers++ === 0) void offer.accept(inbox);
      else offer.decline();
    });
    await a.send('b', path);
    expect(readFileSync(join(inbox, 'data.bin')).equals(bytes)).toBe(true);
    await expect(a.send('b', path, { name: 'second.bin' })).rejects.toMatchObject({ code: 'ERR_FILE_DECLINED', message: expect.stringContaining('declined second.bin: declined') });
  });

  it.each<[string, FileOptions, string]>([
    ['nobody reads files$ and there is no folder', {}, 'no-receiver'],
    ['the file is over files.maxBytes', { dir: '/nonexistent', maxBytes: 999 }, 'too-large'],
  ])('declines when %s', async (_, options, reason) => {
    const { a } = pair(options);
    await expect(a.send('b', file(1000).path)).rejects.toMatchObject({ code: 'ERR_FILE_DECLINED', message: expect.stringContaining(reason) });
  });

  it('gives up on an offer nobody answers, and tells the receiver', async () => {
    const { a, b } = pair({}, { answerTimeoutMs: 50 });
    const seen: string[] = [];
    b.files$.subscribe(() => seen.push('offer'));
    await expect(a.send('b', file(10).path)).rejects.toMatchObject({ code: 'ERR_FILE_DECLINED', message: expect.stringContaining('no answer') });
    expect(seen).toEqual(['offer']);
  });

  it('declines offers past 4 in flight from one peer, and a second copy of a file already coming, as busy', async () => {
    const { b, taps } = pair({ dir: tempDir() });
    const replies: string[] = [];
    taps.push((from, bytes) => {
      const m = decodeFileMessage(bytes);
      if (from === 'b') replies.push(m?.kind === FileKind.Decline ? m.reason : `kind ${m?.kind}`);
      return bytes;
    });
    const offer = (sha256: string) => encodeFileMessage({ kind: FileKind.Offer, id: randomBytes(16).toString('hex'), name: 'x.bin', size: 10, sha256 });
    b.receive('a', offer('aa'.repeat(32)));
    await until(() => replies.length === 1);
    b.receive('a', offer('aa'.repeat(32)));
    for (const digit of ['b', 'c', 'd', 'e']) b.receive('a', offer(digit.repeat(64)));
    await until(() => replies.length === 6);
    // A decline goes at once, an accept once its partial file is open: compare as sets.
    expect(replies.sort()).toEqual(['busy', 'busy', ...Array(4).fill(`kind ${FileKind.Accept}`)]);
  });

  it('ends an accepted transfer whose sender goes quiet for a minute, and tells it so', async () => {
    const { b, taps } = pair({ dir: tempDir() });
    const replies: string[] = [];
    taps.push((from, bytes) => {
      const m = decodeFileMessage(bytes);
      if (from === 'b') replies.push(m?.kind === FileKind.Cancel ? `cancel ${m.reason}` : `kind ${m?.kind}`);
      return bytes;
    });
    const failed: string[] = [];
    b.transfers$.subscribe((s) => s.state === 'failed' && failed.push(s.error!.code));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      b.receive('a', encodeFileMessage({ kind: FileKind.Offer, id: randomBytes(16).toString('hex'), name: 'x.bin', size: 10, sha256: 'ab'.repeat(32) }));
      await until(() => replies.length === 1);
      vi.advanceTimersByTime(STALL_MS - 1);
      expect(failed).toEqual([]);
      vi.advanceTimersByTime(1);
      await until(() => replies.length === 2);
    } finally {
      vi.useRealTimers();
    }
    expect(replies).toEqual([`kind ${FileKind.Accept}`, 'cancel timeout']);
    expect(failed).toEqual(['ERR_FILE_INTERRUPTED']);
  });

  it('declines a name that would leave the folder, and writes nothing outside it', async () => {
    const inbox = tempDir();
    const { a, b, taps } = pair({ dir: join(inbox, 'in') });
    const replies: string[] = [];
    taps.push((from, bytes) => {
      const m = decodeFileMessage(bytes);
      if (from === 'b' && m?.kind === FileKind.Decline) replies.push(m.reason);
      return bytes;
    });
    for (const name of ['../escape.txt', '/etc/passwd', '.hidden', 'a/b', 'nul\u0000']) {
      b.receive('a', encodeFileMessage({ kind: FileKind.Offer, id: randomBytes(16).toString('hex'), name, size: 1, sha256: 'ab'.repeat(32) }));
    }
    await until(() => replies.length === 5);
    expect(replies).toEqual(Array(5).fill('bad-name'));
    expect(readdirSync(inbox)).toEqual([]);
    await expect(a.send('b', file(10).path, { name: '../x' })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });

  it('resumes an interrupted transfer from the bytes the receiver has, and verifies the whole file', async () => {
    const inbox = tempDir();
    const { a, steps, closeLink, reopen } = pair({ dir: inbox });
    const { path, bytes } = file(20 * 1024 * 1024);
    const first = a.send('b', path);
    await until(() => steps.some((s) => s.direction === 'in' && s.bytes >= 5 * 1024 * 1024));
    closeLink();
    await expect(first).rejects.toMatchObject({ code: 'ERR_FILE_INTERRUPTED' });
    const partial = steps.filter((s) => s.direction === 'in' && s.state === 'failed').at(-1)!;
    expect(partial.error?.code).toBe('ERR_FILE_INTERRUPTED');
    expect(readdirSync(inbox)).toHaveLength(1); // the hidden partial file, kept for the resume
    reopen();
    const again = await a.send('b', path);
    expect(again.resumedFrom).toBeGreaterThanOrEqual(5 * 1024 * 1024);
    expect(again.resumedFrom).toBeLessThan(bytes.length);
    await until(() => readdirSync(inbox).includes('data.bin'));
    expect(readFileSync(join(inbox, 'data.bin')).equals(bytes)).toBe(true);
    expect(readdirSync(inbox)).toEqual(['data.bin']);
  });

  it('fails a file whose bytes were changed on the way, on both sides, and deletes the partial file', async () => {
    const inbox = tempDir();
    const { a, b, taps } = pair({ dir: inbox });
    taps.push((_, bytes) => {
      const m = decodeFileMessage(bytes);
      if (m?.kind === FileKind.Chunk && m.offset === 0) bytes[bytes.length - 1]! ^= 1;
      return bytes;
    });
    const failed: string[] = [];
    b.transfers$.subscribe((s) => s.state === 'failed' && failed.push(s.error!.code));
    await expect(a.send('b', file(200_000).path)).rejects.toMatchObject({ code: 'ERR_FILE_CORRUPT' });
    await until(() => failed.length === 1);
    expect(failed).toEqual(['ERR_FILE_CORRUPT']);
    await until(() => readdirSync(inbox).length === 0);
  });

  it('stops a transfer whose chunks come out of order', async () => {
    const { a, b, taps } = pair({ dir: tempDir() });
    let dropped = false;
    taps.push((_, bytes) => {
      const m = decodeFileMessage(bytes);
      if (m?.kind === FileKind.Chunk && m.offset > 0 && !dropped) return void (dropped = true);
      return bytes;
    });
    const failed: string[] = [];
    b.transfers$.subscribe((s) => s.state === 'failed' && failed.push(s.error!.message));
    await expect(a.send('b', file(300_000).path)).rejects.toMatchObject({ code: 'ERR_FILE_DECLINED', message: expect.stringContaining('out-of-order') });
    expect(failed[0]).toMatch(/chunk at \d+ where \d+ was expected/);
  });

  it('keeps the sender within its window of what the receiver has on disk', async () => {
    const { a, taps } = pair({ dir: tempDir() });
    let sent = 0;
    let written = 0;
    let ahead = 0;
    taps.push((_, bytes) => {
      const m = decodeFileMessage(bytes);
      if (m?.kind === FileKind.Chunk) sent = m.offset + m.data.length;
      ahead = Math.max(ahead, sent - written);
      if (m?.kind !== FileKind.Written) return bytes;
      // A slow disk, as the sender sees it: each report of progress arrives 20 ms late.
      setTimeout(() => {
        written = m.offset;
        a.receive('b', bytes);
      }, 20);
      return undefined;
    });
    await a.send('b', file(24 * 1024 * 1024).path);
    expect(ahead).toBeGreaterThan(0);
    expect(ahead).toBeLessThanOrEqual(WINDOW_BYTES);
  });

  it('reports a peer that takes no files as declining, and an unreadable path as unreadable', async () => {
    const a = new FileTransfers({ send: () => Promise.reject(new P2PError('ERR_NOT_DELIVERED', 'unread')) }, {}, silentLogger);
    await expect(a.send('b', file(10).path)).rejects.toMatchObject({ code: 'ERR_FILE_DECLINED', message: expect.stringContaining('does not take files') });
    await expect(a.send('b', join(tempDir(), 'missing'))).rejects.toMatchObject({ code: 'ERR_FILE_UNREADABLE' });
    await expect(a.send('b', tempDir())).rejects.toMatchObject({ code: 'ERR_FILE_UNREADABLE' });
  });

  it('drops malformed file messages and answers chunks of unknown transfers with a cancel', async () => {
    const { b, taps } = pair({ dir: tempDir() });
    const replies: number[] = [];
    taps.push((from, bytes) => (from === 'b' && replies.push(bytes[0]!), bytes));
    expect(b.receive('a', Uint8Array.of(9, 9, 9))).toBe(false);
    expect(b.receive('a', encodeFileMessage({ kind: FileKind.Chunk, id: 'cd'.repeat(16), offset: 0, data: Uint8Array.of(1) }))).toBe(true);
    await until(() => replies.length === 1);
    expect(replies).toEqual([FileKind.Cancel]);
  });
});
