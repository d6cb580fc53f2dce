/**
 * Wire format of the peer data channel: every channel message is one frame, and a frame carries
 * one chunk of a logical message.
 *
 * | Offset | Size | Field        | Present            | Meaning                                          |
 * | ------ | ---- | ------------ | ------------------ | ------------------------------------------------ |
 * | 0      | 1    | type         | always             | {@link FrameType}; unknown types are skipped     |
 * | 1      | 1    | flags        | always             | {@link FLAG_FIRST} \| {@link FLAG_LAST} \| {@link FLAG_TEXT} |
 * | 2      | 4    | total length | FIRST frames only  | u32 big-endian byte length of the whole payload  |
 * | 2 or 6 | n    | payload      | always (n may be 0)| this frame's slice of the message payload        |
 *
 * Rules: a message is one FIRST frame, then zero or more continuation frames (no FIRST), the last
 * frame having LAST set (a message that fits in one frame is a single FIRST|LAST frame). TEXT marks
 * the payload as UTF-8 and is set on every frame of a text message. The channel is ordered and a
 * sender never interleaves the frames of two messages, so continuations need no message id. Flags
 * outside {@link KNOWN_FLAGS} make the frame malformed.
 *
 * @module
 */

/** The kinds of frame carried on the channel; new kinds get their own value here. */
export const FrameType = {
  /** An application message handed to `PeerLink.send`. */
  Message: 0,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const FLAG_FIRST = 0x01;
export const FLAG_LAST = 0x02;
export const FLAG_TEXT = 0x04;
export const KNOWN_FLAGS = FLAG_FIRST | FLAG_LAST | FLAG_TEXT;

/** Header size of a continuation frame: type and flags. */
export const BASE_HEADER_SIZE = 2;
/** Header size of a FIRST frame: type, flags and the u32 total length. */
export const FIRST_HEADER_SIZE = 6;
/** Largest total length the u32 header field can announce. */
export const MAX_TOTAL_LENGTH = 0xffff_ffff;

const KNOWN_TYPES: ReadonlySet<number> = new Set(Object.values(FrameType));

/** One decoded frame; `payload` is a view into the decoded bytes, not a copy. */
export interface Frame {
  type: FrameType;
  flags: number;
  /** The announced message length; present exactly when `flags` has {@link FLAG_FIRST}. */
  totalLength: number | undefined;
  payload: Uint8Array;
}

export type DecodeResult =
  | { kind: 'frame'; frame: Frame }
  | { kind: 'unknown-type'; type: number }
  | { kind: 'malformed'; reason: string };

/** Header size of a frame with these flags. */
export function headerSize(flags: number): number {
  return flags & FLAG_FIRST ? FIRST_HEADER_SIZE : BASE_HEADER_SIZE;
}

/**
 * Builds one frame from `source[start, end)` with a single allocation and a single copy.
 *
 * @param totalLength the whole message's payload length; written only when `flags` has FIRST.
 */
export function encodeFrame(
  type: FrameType,
  flags: number,
  totalLength: number,
  source: Uint8Array,
  start: number,
  end: number,
): Uint8Array {
  const header = headerSize(flags);
  // allocUnsafeSlow: an unpooled buffer the frame owns whole (byteOffset 0), so a transport that
  // sends the underlying ArrayBuffer sends exactly this frame; zero-filling is wasted as every byte is written.
  const frame = Buffer.allocUnsafeSlow(header + end - start);
  frame[0] = type;
  frame[1] = flags;
  if (flags & FLAG_FIRST) frame.writeUInt32BE(totalLength, BASE_HEADER_SIZE);
  frame.set(source.subarray(start, end), header);
  return frame;
}

/** Parses a frame's header; never throws, whatever the bytes. */
export function decodeFrame(bytes: Uint8Array): DecodeResult {
  if (bytes.length < BASE_HEADER_SIZE) return malformed('frame shorter than its header');
  const type = bytes[0] as number;
  if (!KNOWN_TYPES.has(type)) return { kind: 'unknown-type', type };
  const flags = bytes[1] as number;
  if (flags & ~KNOWN_FLAGS) return malformed(`unknown flags 0x${flags.toString(16)}`);
  let totalLength: number | undefined;
  if (flags & FLAG_FIRST) {
    if (bytes.length < FIRST_HEADER_SIZE) return malformed('FIRST frame shorter than its header');
    totalLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(BASE_HEADER_SIZE);
  }
  const payload = bytes.subarray(headerSize(flags));
  return { kind: 'frame', frame: { type: type as FrameType, flags, totalLength, payload } };
}

function malformed(reason: string): DecodeResult {
  return { kind: 'malformed', reason };
}
