/** File transfer between real nodes: a real signaling server on 127.0.0.1, real WebRTC, real files. */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { TransferProgress } from '../src/index.js';
import { Harness } from './helpers.js';

const MB = 1024 * 1024;
const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'p2p-files-'));
  dirs.push(dir);
  return dir;
};

/** A file of `size` random bytes, written in 1 MiB pieces, and its SHA-256. */
function randomFile(size: number, name = 'random.bin'): { path: string; sha256: string } {
  const hash = createHash('sha256');
  const path = join(tempDir(), name);
  writeFileSync(path, '');
  for (let at = 0; at < size; at += MB) {
    const piece = randomBytes(Math.min(MB, size - at));
    hash.update(piece);
    writeFileSync(path, piece, { flag: 'a' });
  }
  return { path, sha256: hash.digest('hex') };
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path)) hash.update(piece as Buffer);
  return hash.digest('hex');
}

describe('file transfer over real WebRTC', () => {
  const h = new Harness();
  afterEach(async () => {
    await h.cleanup();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('sends a 50 MB file each way, verified by SHA-256, with progress on both sides', async () => {
    const server = await h.server();
    const inA = tempDir();
    const inB = tempDir();
    const a = await h.started(server.url, { files: { dir: inA } });
    const b = await h.started(server.url, { files: { dir: inB } });
    await a.connectToNode(b.nodeId);
    const steps: TransferProgress[] = [];
    a.transfers$.subscribe((s) => steps.push(s));
    b.transfers$.subscribe((s) => steps.push(s));
    const there = randomFile(50 * MB, 'there.bin');
    const back = randomFile(50 * MB, 'back.bin');
    const [toB, toA] = await Promise.all([a.sendFile(b.nodeId, there.path), b.sendFile(a.nodeId, back.path)]);
    expect(toB).toMatchObject({ size: 50 * MB, sha256: there.sha256, resumedFrom: 0 });
    expect(toA).toMatchObject({ size: 50 * MB, sha256: back.sha256, resumedFrom: 0 });
    // The sender's promise settles on the receiver's verdict; the file is in place by then.
    expect(await sha256Of(join(inB, 'there.bin'))).toBe(there.sha256);
    expect(await sha256Of(join(inA, 'back.bin'))).toBe(back.sha256);
    for (const [direction, id] of [['out', toB.id], ['in', toB.id], ['out', toA.id], ['in', toA.id]] as const) {
      const own = steps.filter((s) => s.id === id && s.direction === direction);
      expect(own.filter((s) => s.state === 'active').length).toBeGreaterThan(10);
      expect(own.at(-1)).toMatchObject({ state: 'done', bytes: 50 * MB });
    }
    // Text still flows both ways beside files, and no file message ever reached data$.
    const got = firstValueFrom(b.data$);
    await a.send(b.nodeId, 'after the files');
    expect((await got).data).toBe('after the files');
  });

  it('sends a file over a DHT link too, where long messages go as parts under credit, and DHT lookups still answer meanwhile', async () => {
    const server = await h.server();
    const inbox = tempDir();
    const a = await h.started(server.url, { dht: true });
    const b = await h.started(server.url, { dht: true, files: { dir: inbox } });
    await a.connectToNode(b.nodeId);
    await b.join('files/dht-link');
    const file = randomFile(20 * MB);
    const sending = a.sendFile(b.nodeId, file.path);
    await firstValueFrom(a.transfers$.pipe(filter((s) => s.bytes >= 2 * MB)));
    expect(await a.lookup('files/dht-link')).toEqual([b.nodeId]);
    expect(await sending).toMatchObject({ size: 20 * MB, sha256: file.sha256 });
    expect(await sha256Of(join(inbox, 'random.bin'))).toBe(file.sha256);
  });

  it('resumes after the connection drops mid-file: sending again once reconnected continues from what the receiver has', async () => {
    const server = await h.server();
    const inbox = tempDir();
    const a = await h.started(server.url);
    const b = await h.started(server.url, { files: { dir: inbox } });
    await a.connectToNode(b.nodeId);
    const file = randomFile(50 * MB);
    const first = a.sendFile(b.nodeId, file.path);
    await firstValueFrom(b.transfers$.pipe(filter((s) => s.bytes >= 10 * MB)));
    await b.disconnect(a.nodeId, { force: true });
    await expect(first).rejects.toMatchObject({ code: 'ERR_FILE_INTERRUPTED' });
    await a.connectToNode(b.nodeId);
    const again = await a.sendFile(b.nodeId, file.path);
    expect(again.resumedFrom).toBeGreaterThanOrEqual(10 * MB);
    expect(again.resumedFrom).toBeLessThan(50 * MB);
    expect(await sha256Of(join(inbox, 'random.bin'))).toBe(file.sha256);
    expect(readdirSync(inbox)).toEqual(['random.bin']);
  });

  it('declines what it may not take: over files.maxBytes, or with nobody to receive it', async () => {
    const server = await h.server();
    const a = await h.started(server.url);
    const small = await h.started(server.url, { files: { dir: tempDir(), maxBytes: 1000 } });
    const deaf = await h.started(server.url);
    await a.connectToNode(small.nodeId);
    await a.connectToNode(deaf.nodeId);
    const file = randomFile(2000);
    await expect(a.sendFile(small.nodeId, file.path)).rejects.toMatchObject({ code: 'ERR_FILE_DECLINED', message: expect.stringContaining('too-large') });
    await expect(a.sendFile(deaf.nodeId, file.path)).rejects.toMatchObject({ code: 'ERR_FILE_DECLINED', message: expect.stringContaining('no-receiver') });
    await expect(a.sendFile(small.nodeId, join(tempDir(), 'nothing-here'))).rejects.toMatchObject({ code: 'ERR_FILE_UNREADABLE' });
    await expect(a.sendFile('ab'.repeat(32), file.path)).rejects.toMatchObject({ code: 'ERR_NOT_CONNECTED' });
  });
});
