/**
 * The browser's file storage (files/storage.browser.ts: Blobs, no disk) under the real protocol: the
 * same FileTransfers as test/fileTransfers.test.ts, with the module the browser build swaps in.
 * Node has Blob, File and blob: URLs, so this runs here; test/browser/webApp.test.ts runs it in Chromium.
 */
import { randomBytes } from 'node:crypto';
import { resolveObjectURL } from 'node:buffer';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { closePairs, pair, sha, until } from './support/filePair.js';

vi.mock('../src/files/storage.js', () => import('../src/files/storage.browser.js'));

afterEach(closePairs);

/** The bytes and name behind a `blob:` URL that a transfer reported as its path. */
async function fromUrl(url: string): Promise<Buffer> {
  // (Node's resolveObjectURL gives back a Blob, so the File's name cannot be checked here; Chromium's test does.)
  const blob = resolveObjectURL(url);
  if (!blob) throw new Error(`${url} names no Blob`);
  return Buffer.from(await blob.arrayBuffer());
}

describe('file transfer into and out of Blobs (the browser build)', () => {
  it('sends a File and receives into a Blob, with no folder: the path is a blob: URL', async () => {
    const { a, b, steps } = pair();
    b.files$.subscribe((offer) => void offer.accept().catch(() => {})); // failures show in transfers$
    const bytes = randomBytes(3 * 1024 * 1024 + 5);
    const sent = await a.send('b', new File([bytes], 'photo.jpg'));
    expect(sent).toMatchObject({ size: bytes.length, sha256: sha(bytes), resumedFrom: 0 });
    await until(() => steps.some((s) => s.direction === 'in' && s.state === 'done'));
    const done = steps.find((s) => s.direction === 'in' && s.state === 'done')!;
    expect(done.path).toMatch(/^blob:/);
    expect(done.name).toBe('photo.jpg');
    expect((await fromUrl(done.path!)).equals(bytes)).toBe(true);
  });

  it('resumes an interrupted transfer from the bytes the tab kept, and verifies the whole file', async () => {
    const { a, b, steps, closeLink, reopen } = pair();
    b.files$.subscribe((offer) => void offer.accept().catch(() => {})); // failures show in transfers$
    const bytes = randomBytes(20 * 1024 * 1024);
    const blob = new Blob([bytes]);
    const first = a.send('b', blob, { name: 'big.bin' });
    await until(() => steps.some((s) => s.direction === 'in' && s.bytes >= 5 * 1024 * 1024));
    closeLink();
    await expect(first).rejects.toMatchObject({ code: 'ERR_FILE_INTERRUPTED' });
    reopen();
    const again = await a.send('b', blob, { name: 'big.bin' });
    expect(again.resumedFrom).toBeGreaterThanOrEqual(5 * 1024 * 1024);
    expect(again.resumedFrom).toBeLessThan(bytes.length);
    await until(() => steps.some((s) => s.direction === 'in' && s.state === 'done'));
    const done = steps.filter((s) => s.direction === 'in' && s.state === 'done').at(-1)!;
    expect((await fromUrl(done.path!)).equals(bytes)).toBe(true);
  });

  it('refuses a path, which a tab cannot read', async () => {
    const { a } = pair();
    await expect(a.send('b', '/etc/hostname')).rejects.toMatchObject({ code: 'ERR_FILE_UNREADABLE', message: expect.stringContaining('a browser sends a Blob or File') });
  });
});
