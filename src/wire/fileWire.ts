/**
 * The file-transfer messages of docs/protocol.md §18: what two nodes say to move one file over their
 * data channel, as binary messages with the file flag. Pure: encoding, decoding and the checks a
 * receiver makes before it touches a disk.
 *
 * | Kind | Name    | Body                                                                 |
 * | ---- | ------- | -------------------------------------------------------------------- |
 * | 1    | offer   | JSON `{ id, name, size, sha256 }`                                    |
 * | 2    | accept  | JSON `{ id, offset }`: send from byte `offset` (a resumed transfer)  |
 * | 3    | decline | JSON `{ id, reason }`                                                |
 * | 4    | chunk   | 16-byte id, u64 big-endian offset, then the file's bytes             |
 * | 5    | written | JSON `{ id, offset }`: every byte before `offset` is on disk         |
 * | 6    | done    | JSON `{ id, ok, reason? }`: the whole file's SHA-256 matched, or not |
 * | 7    | cancel  | JSON `{ id, reason }`, from either side                              |
 *
 * @module
 */
import { isRecord } from './protocol.js';

export const FileKind = { Offer: 1, Accept: 2, Decline: 3, Chunk: 4, Written: 5, Done: 6, Cancel: 7 } as const;
export type FileKind = (typeof FileKind)[keyof typeof FileKind];

/**
 * Why a transfer did not happen or did not finish, as the peer is told. A reader takes any reason
 * of 1–64 characters from a-z and `-`, so that newer reasons reach older nodes as text.
 */
export const FILE_REASONS = ['declined', 'too-large', 'bad-name', 'no-receiver', 'busy', 'hash-mismatch', 'out-of-order', 'cancelled', 'write-failed', 'timeout'] as const;
export type FileReason = (typeof FILE_REASONS)[number] | (string & {});

export interface FileOffer {
  /** 32 lowercase hex digits, chosen at random by the sender for this offer. */
  id: string;
  name: string;
  size: number;
  /** 64 lowercase hex digits: SHA-256 of the whole file. */
  sha256: string;
}

export type FileMessage =
  | ({ kind: typeof FileKind.Offer } & FileOffer)
  | { kind: typeof FileKind.Accept; id: string; offset: number }
  | { kind: typeof FileKind.Decline; id: string; reason: FileReason }
  | { kind: typeof FileKind.Chunk; id: string; offset: number; data: Uint8Array }
  | { kind: typeof FileKind.Written; id: string; offset: number }
  | { kind: typeof FileKind.Done; id: string; ok: boolean; reason?: FileReason }
  | { kind: typeof FileKind.Cancel; id: string; reason: FileReason };

/** Bytes before a chunk's data: kind, id, offset. */
export const CHUNK_HEADER = 1 + 16 + 8;
/** Largest control message (every kind but chunk) a reader parses. */
export const MAX_CONTROL = 4096;
/** Largest file name, in UTF-8 bytes (what common file systems allow). */
export const MAX_NAME_BYTES = 255;

const ID = /^[0-9a-f]{32}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const REASON = /^[a-z-]{1,64}$/;
// Separators, NUL and other control characters: none may appear in a name a receiver writes.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[/\\\u0000-\u001f\u007f]/;

/**
 * Whether a file name from a peer may be written inside a download folder as it is: one path
 * component, no separators or control characters, not `.` or `..`, not hidden, at most 255 bytes.
 *
 * @example
 * ```ts
 * safeFileName('report.pdf'); // true
 * safeFileName('../../.ssh/authorized_keys'); // false
 * ```
 */
export function safeFileName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && !name.startsWith('.') && !UNSAFE.test(name) && Buffer.byteLength(name) <= MAX_NAME_BYTES;
}

/**
 * Encodes a file-transfer message. A chunk's header is written into `data`'s leading
 * {@link CHUNK_HEADER} bytes when `reserved` says they are free (no copy); otherwise it is copied.
 *
 * @example
 * ```ts
 * encodeFileMessage({ kind: FileKind.Accept, id: 'ab'.repeat(16), offset: 0 });
 * ```
 */
export function encodeFileMessage(message: FileMessage, reserved?: Uint8Array): Uint8Array {
  if (message.kind === FileKind.Chunk) {
    const out = reserved ?? new Uint8Array(CHUNK_HEADER + message.data.length);
    if (!reserved) out.set(message.data, CHUNK_HEADER);
    out[0] = FileKind.Chunk;
    out.set(Buffer.from(message.id, 'hex'), 1);
    new DataView(out.buffer, out.byteOffset, out.byteLength).setBigUint64(17, BigInt(message.offset));
    return out;
  }
  const { kind, ...body } = message;
  const json = Buffer.from(JSON.stringify(body));
  const out = new Uint8Array(1 + json.length);
  out[0] = kind;
  out.set(json, 1);
  return out;
}

/**
 * Decodes a file-transfer message, checking every field; undefined for anything malformed. A chunk's
 * data is a view of `bytes`.
 */
export function decodeFileMessage(bytes: Uint8Array): FileMessage | undefined {
  const kind = bytes[0];
  if (kind === FileKind.Chunk) {
    if (bytes.length < CHUNK_HEADER) return undefined;
    const offset = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(17);
    if (offset > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
    return { kind, id: Buffer.from(bytes.subarray(1, 17)).toString('hex'), offset: Number(offset), data: bytes.subarray(CHUNK_HEADER) };
  }
  if (bytes.length > MAX_CONTROL || kind === undefined) return undefined;
  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(bytes.subarray(1)).toString('utf8'));
    if (!isRecord(parsed)) return undefined;
    body = parsed;
  } catch {
    return undefined;
  }
  const id = body.id;
  if (typeof id !== 'string' || !ID.test(id)) return undefined;
  switch (kind) {
    case FileKind.Offer:
      // The name is checked by the receiver, which declines a bad one as `bad-name` rather than dropping it.
      if (typeof body.name !== 'string' || !isByteCount(body.size) || typeof body.sha256 !== 'string' || !SHA256.test(body.sha256)) return undefined;
      return { kind, id, name: body.name, size: body.size, sha256: body.sha256 };
    case FileKind.Accept:
    case FileKind.Written:
      return isByteCount(body.offset) ? { kind, id, offset: body.offset } : undefined;
    case FileKind.Decline:
    case FileKind.Cancel:
      return isReason(body.reason) ? { kind, id, reason: body.reason } : undefined;
    case FileKind.Done:
      if (typeof body.ok !== 'boolean' || (body.reason !== undefined && !isReason(body.reason))) return undefined;
      return body.reason === undefined ? { kind, id, ok: body.ok } : { kind, id, ok: body.ok, reason: body.reason };
    default:
      return undefined;
  }
}

function isByteCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isReason(value: unknown): value is FileReason {
  return typeof value === 'string' && REASON.test(value);
}
