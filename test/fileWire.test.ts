import { describe, expect, it } from 'vitest';
import { CHUNK_HEADER, FileKind, MAX_CONTROL, decodeFileMessage, encodeFileMessage, safeFileName, type FileMessage } from '../src/wire/fileWire.js';

const id = '0123456789abcdef'.repeat(2);
const sha256 = 'ab'.repeat(32);
const json = (kind: number, body: unknown): Uint8Array => Uint8Array.from([kind, ...Buffer.from(JSON.stringify(body))]);

describe('file-transfer messages', () => {
  it.each<FileMessage>([
    { kind: FileKind.Offer, id, name: 'report.pdf', size: 123, sha256 },
    { kind: FileKind.Accept, id, offset: 65_536 },
    { kind: FileKind.Decline, id, reason: 'too-large' },
    { kind: FileKind.Written, id, offset: 0 },
    { kind: FileKind.Done, id, ok: true },
    { kind: FileKind.Done, id, ok: false, reason: 'hash-mismatch' },
    { kind: FileKind.Cancel, id, reason: 'cancelled' },
  ])('round-trips kind $kind', (message) => {
    expect(decodeFileMessage(encodeFileMessage(message))).toEqual(message);
  });

  it('lays a chunk out as kind, id, u64 offset and the bytes, and writes the header in place when asked', () => {
    const data = Uint8Array.of(1, 2, 3);
    const bytes = encodeFileMessage({ kind: FileKind.Chunk, id, offset: 2 ** 40 + 5, data });
    expect(Buffer.from(bytes).toString('hex')).toBe(`04${id}0000010000000005010203`);
    expect(decodeFileMessage(bytes)).toEqual({ kind: FileKind.Chunk, id, offset: 2 ** 40 + 5, data });
    const reserved = new Uint8Array(CHUNK_HEADER + 3);
    reserved.set(data, CHUNK_HEADER);
    expect(encodeFileMessage({ kind: FileKind.Chunk, id, offset: 2 ** 40 + 5, data: reserved.subarray(CHUNK_HEADER) }, reserved)).toBe(reserved);
    expect(reserved).toEqual(bytes);
  });

  it('encodes the example of docs/protocol.md section 18.1 byte for byte', () => {
    const example = '00112233445566778899aabbccddeeff';
    const offer = encodeFileMessage({ kind: FileKind.Offer, id: example, name: 'hi.txt', size: 5, sha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824' });
    expect(offer[0]).toBe(1);
    expect(Buffer.from(offer.subarray(1)).toString()).toBe(`{"id":"${example}","name":"hi.txt","size":5,"sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}`);
    expect(Buffer.from(encodeFileMessage({ kind: FileKind.Accept, id: example, offset: 0 })).toString('latin1')).toBe(`\u0002{"id":"${example}","offset":0}`);
    const chunk = encodeFileMessage({ kind: FileKind.Chunk, id: example, offset: 0, data: Buffer.from('hello') });
    expect(Buffer.from(chunk).toString('hex')).toBe(`04${example}000000000000000068656c6c6f`);
  });

  it('reads a reason it does not know as text, so newer reasons reach older nodes', () => {
    expect(decodeFileMessage(json(FileKind.Decline, { id, reason: 'disk-full' }))).toEqual({ kind: FileKind.Decline, id, reason: 'disk-full' });
  });

  it.each([
    ['empty', new Uint8Array(0)],
    ['an unknown kind', json(9, { id })],
    ['not JSON', Uint8Array.of(FileKind.Accept, 0x7b)],
    ['a JSON array', json(FileKind.Accept, [id, 0])],
    ['a short id', json(FileKind.Accept, { id: 'abc', offset: 0 })],
    ['an upper-case id', json(FileKind.Accept, { id: id.toUpperCase(), offset: 0 })],
    ['a negative offset', json(FileKind.Accept, { id, offset: -1 })],
    ['a fractional offset', json(FileKind.Written, { id, offset: 1.5 })],
    ['an unsafe size', json(FileKind.Offer, { id, name: 'a', size: 2 ** 53, sha256 })],
    ['a short hash', json(FileKind.Offer, { id, name: 'a', size: 1, sha256: 'ab' })],
    ['a name that is no string', json(FileKind.Offer, { id, name: 7, size: 1, sha256 })],
    ['a reason with spaces', json(FileKind.Cancel, { id, reason: 'rm -rf' })],
    ['a done without ok', json(FileKind.Done, { id })],
    ['a short chunk', Uint8Array.of(FileKind.Chunk, 1, 2)],
    ['a chunk past 2^53', Uint8Array.from([FileKind.Chunk, ...Buffer.from(id, 'hex'), 0xff, 0, 0, 0, 0, 0, 0, 0])],
    ['an oversized control message', json(FileKind.Cancel, { id, reason: 'cancelled', pad: 'x'.repeat(MAX_CONTROL) })],
  ])('rejects %s', (_, bytes) => {
    expect(decodeFileMessage(bytes)).toBeUndefined();
  });
});

describe('safeFileName', () => {
  it.each(['report.pdf', 'photo 1 (2).jpg', '日本語.txt', 'a'.repeat(255), 'x..y'])('takes %s', (name) => {
    expect(safeFileName(name)).toBe(true);
  });

  it.each(['', '.', '..', '../etc/passwd', 'a/b', 'a\\b', '.bashrc', 'nul\u0000byte', 'line\nbreak', 'del\u007f', 'é'.repeat(128), 7, undefined])('refuses %j', (name) => {
    expect(safeFileName(name)).toBe(false);
  });
});
