import { createCipheriv, createHash } from 'node:crypto';
import { describe, it, expect, vi } from 'vitest';
import { P2PError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import { FLAG_FIRST, FLAG_LAST, FLAG_TEXT, FrameType, decodeFrame, encodeFrame } from '../src/services/framing.js';
import { PeerLink, type LinkOptions, type RawChannel } from '../src/services/link.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** What the wrtc binding does past these limits: drop silently, or close the channel. */
const FAKE_DROP_LIMIT = 16 * MiB;
const FAKE_MAX_FRAME = 256 * KiB;
/** Fast enough for a quick suite, slow enough that an unpaced sender overruns the drop limit. */
const FAKE_BYTES_PER_MS = 256 * KiB;

type Message = string | Uint8Array;

/**
 * One direction of an in-memory channel that models the wrtc binding: frames drain to the receiver
 * asynchronously at a bounded rate, in batches; past 16 MiB buffered they are dropped silently, and
 * a frame over 256 KiB closes the channel so later sends throw.
 */
class FakeChannel implements RawChannel {
  bufferedAmount = 0;
  peakBuffered = 0;
  dropped = 0;
  closed = false;
  readonly frameSizes: number[] = [];
  deliver: (frame: Uint8Array) => void = () => {};
  private readonly inFlight: Uint8Array[] = [];
  private credit = 0;
  private lastDrain = 0;
  private draining = false;

  /** Closes underneath the link, discarding what was still buffered. */
  close(): void {
    this.closed = true;
    this.inFlight.length = 0;
    this.bufferedAmount = 0;
  }

  send(frame: Uint8Array): void {
    if (this.closed) throw new Error('InvalidStateError: RTCDataChannel.readyState is not "open"');
    if (frame.length > FAKE_MAX_FRAME) {
      this.close();
      return;
    }
    if (this.bufferedAmount + frame.length > FAKE_DROP_LIMIT) {
      this.dropped++;
      return;
    }
    this.frameSizes.push(frame.length);
    // A copy, as the network would make: the receiver must not see later changes to the sender's bytes.
    this.inFlight.push(new Uint8Array(frame));
    this.bufferedAmount += frame.length;
    this.peakBuffered = Math.max(this.peakBuffered, this.bufferedAmount);
    this.startDraining();
  }

  /** Resolves once everything sent so far has reached the receiver. */
  async drained(): Promise<void> {
    while (this.inFlight.length > 0) await new Promise((resolve) => setImmediate(resolve));
  }

  private startDraining(): void {
    if (this.draining) return;
    this.draining = true;
    this.lastDrain = performance.now();
    setImmediate(() => this.drain());
  }

  private drain(): void {
    if (this.closed) return;
    const now = performance.now();
    this.credit += (now - this.lastDrain) * FAKE_BYTES_PER_MS;
    this.lastDrain = now;
    for (let next = this.inFlight[0]; next && next.length <= this.credit; next = this.inFlight[0]) {
      this.inFlight.shift();
      this.credit -= next.length;
      this.bufferedAmount -= next.length;
      this.deliver(next);
    }
    if (this.inFlight.length > 0) {
      setImmediate(() => this.drain());
    } else {
      this.draining = false;
      this.credit = 0;
    }
  }
}

/** Collects delivered messages and lets a test wait for the n-th. */
class Inbox {
  readonly messages: Message[] = [];
  private waiter: { count: number; resolve: () => void } | undefined;

  readonly push = (message: Message): void => {
    this.messages.push(message);
    if (this.waiter && this.messages.length >= this.waiter.count) this.waiter.resolve();
  };

  until(count: number): Promise<void> {
    if (this.messages.length >= count) return Promise.resolve();
    return new Promise((resolve) => (this.waiter = { count, resolve }));
  }
}

/** A sender and a receiver link joined by one {@link FakeChannel}. */
function connect(senderOptions: LinkOptions = {}, receiverOptions: LinkOptions = senderOptions) {
  const channel = new FakeChannel();
  const inbox = new Inbox();
  const sender = new PeerLink(channel, () => {}, senderOptions);
  const receiver = new PeerLink({ send: () => {}, bufferedAmount: 0 }, inbox.push, receiverOptions);
  channel.deliver = (frame) => receiver.receive(frame);
  return { channel, inbox, sender, receiver };
}

async function roundTrip(messages: Message[], options: LinkOptions = {}) {
  const link = connect(options);
  await Promise.all(messages.map((m) => link.sender.send(m)));
  await link.inbox.until(messages.length);
  return link;
}

function recordingLogger() {
  const entries: { level: string; obj: object; msg: string | undefined }[] = [];
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      entries.push({ level, obj, msg });
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return { logger, entries };
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** `size` deterministic pseudo-random bytes: AES-CTR keystream, far faster than a JS generator. */
function keystream(seed: number, size: number): Buffer {
  const key = createHash('sha256').update(`seed:${seed}`).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

function digest(message: Message): string {
  const kind = typeof message === 'string' ? 'text' : 'binary';
  return `${kind}:${createHash('sha256').update(message).digest('hex')}`;
}

function bytes(size: number, fill = 0xab): Uint8Array {
  return new Uint8Array(size).fill(fill);
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await expect(promise).rejects.toBeInstanceOf(P2PError);
  await expect(promise).rejects.toMatchObject({ code });
}

describe('framing', () => {
  it('encodes the documented layout', () => {
    const payload = Uint8Array.of(1, 2, 3, 4, 5);
    const first = encodeFrame(FrameType.Message, FLAG_FIRST | FLAG_TEXT, 300, payload, 1, 3);
    expect([...first]).toEqual([0, FLAG_FIRST | FLAG_TEXT, 0, 0, 1, 44, 2, 3]);
    const last = encodeFrame(FrameType.Message, FLAG_LAST, 300, payload, 3, 5);
    expect([...last]).toEqual([0, FLAG_LAST, 4, 5]);
  });

  it('decodes what it encodes and rejects unknown flags', () => {
    const frame = encodeFrame(FrameType.Message, FLAG_FIRST | FLAG_LAST, 2, Uint8Array.of(7, 8), 0, 2);
    const decoded = decodeFrame(frame);
    expect(decoded).toMatchObject({ kind: 'frame', frame: { flags: FLAG_FIRST | FLAG_LAST, totalLength: 2 } });
    expect(decoded.kind === 'frame' && [...decoded.frame.payload]).toEqual([7, 8]);
    expect(decodeFrame(Uint8Array.of(0, 0x40)).kind).toBe('malformed');
    expect(decodeFrame(Uint8Array.of(9, 0xff))).toEqual({ kind: 'unknown-type', type: 9 });
  });
});

describe('fake channel', () => {
  it('drops frames once more than 16 MiB are buffered, so an unpaced sender loses data', () => {
    const channel = new FakeChannel();
    for (let i = 0; i < 300; i++) channel.send(bytes(64 * KiB));
    expect(channel.dropped).toBeGreaterThan(0);
  });

  it('closes on a frame over 256 KiB, after which sends throw', () => {
    const channel = new FakeChannel();
    channel.send(bytes(256 * KiB + 1));
    expect(() => channel.send(bytes(1))).toThrow();
  });
});

describe('PeerLink', () => {
  it('round-trips strings and binary, keeping their type', async () => {
    const text = '\uFEFFhello, 世界 € 😀 '.repeat(50);
    const binary = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
    const { inbox } = await roundTrip([text, binary, 'short', Uint8Array.of(1)], { chunkSize: 16 });
    const [gotText, gotBinary, gotShort, gotOne] = inbox.messages;
    expect(gotText).toBe(text);
    expect(gotBinary).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(gotBinary as Uint8Array).equals(binary)).toBe(true);
    expect(gotShort).toBe('short');
    expect([...(gotOne as Uint8Array)]).toEqual([1]);
  });

  it('reassembles multi-byte UTF-8 split at every possible chunk offset', async () => {
    // 7 payload bytes per continuation frame walks the 1- to 4-byte characters across every boundary.
    const text = 'aé€😀'.repeat(40);
    const { inbox } = await roundTrip([text], { chunkSize: 9 });
    expect(inbox.messages).toEqual([text]);
  });

  it('delivers the empty string and the empty Uint8Array as one frame each', async () => {
    const { inbox, channel } = await roundTrip(['', new Uint8Array(0)]);
    expect(inbox.messages[0]).toBe('');
    expect(inbox.messages[1]).toBeInstanceOf(Uint8Array);
    expect((inbox.messages[1] as Uint8Array).length).toBe(0);
    expect(channel.frameSizes).toEqual([6, 6]);
  });

  it.each([
    // chunkSize 16: a FIRST frame carries 10 payload bytes, a continuation 14.
    { chunkSize: 16, size: 9, frames: 1 },
    { chunkSize: 16, size: 10, frames: 1 },
    { chunkSize: 16, size: 11, frames: 2 },
    { chunkSize: 16, size: 24, frames: 2 },
    { chunkSize: 16, size: 25, frames: 3 },
    { chunkSize: 16, size: 38, frames: 3 },
    { chunkSize: 16, size: 39, frames: 4 },
    { chunkSize: 64 * KiB, size: 64 * KiB - 6, frames: 1 },
    { chunkSize: 64 * KiB, size: 64 * KiB - 5, frames: 2 },
    { chunkSize: 64 * KiB, size: 128 * KiB - 8, frames: 2 },
    { chunkSize: 64 * KiB, size: 128 * KiB - 7, frames: 3 },
    { chunkSize: 256 * KiB, size: 256 * KiB - 6, frames: 1 },
  ])('splits $size bytes into $frames frame(s) of at most $chunkSize', async ({ chunkSize, size, frames }) => {
    const payload = keystream(size, size);
    const { inbox, channel } = await roundTrip([payload], { chunkSize });
    expect(channel.frameSizes).toHaveLength(frames);
    expect(Math.max(...channel.frameSizes)).toBeLessThanOrEqual(chunkSize);
    expect(Buffer.from(inbox.messages[0] as Uint8Array).equals(payload)).toBe(true);
  });

  it('accepts a message of exactly maxMessageSize and rejects one byte more', async () => {
    const options = { maxMessageSize: 1000, chunkSize: 64 };
    const { inbox, sender } = connect(options);
    await expectCode(sender.send(bytes(1001)), 'ERR_MESSAGE_TOO_LARGE');
    await expectCode(sender.send('é'.repeat(500) + 'a'), 'ERR_MESSAGE_TOO_LARGE');
    await sender.send(bytes(1000));
    await sender.send('é'.repeat(500));
    await inbox.until(2);
    expect((inbox.messages[0] as Uint8Array).length).toBe(1000);
    expect(inbox.messages[1]).toBe('é'.repeat(500));
    expect(sender.bytesOut).toBe(2000);
  });

  it('drops an incoming message above its own limit and resyncs at the next one', async () => {
    const { logger, entries } = recordingLogger();
    const { inbox, sender, receiver } = connect({ chunkSize: 64 }, { maxMessageSize: 1000, logger });
    await sender.send(bytes(5000));
    await sender.send('after');
    await inbox.until(1);
    expect(inbox.messages).toEqual(['after']);
    expect(receiver.bytesIn).toBe(5);
    expect(entries.some((e) => e.level === 'warn' && /oversize/.test(e.msg ?? ''))).toBe(true);
  });

  it('rejects anything but a string or Uint8Array with ERR_INVALID_DATA', async () => {
    const { sender } = connect();
    await expectCode(sender.send(42 as unknown as string), 'ERR_INVALID_DATA');
    await expectCode(sender.send(new ArrayBuffer(4) as unknown as Uint8Array), 'ERR_INVALID_DATA');
  });

  it('keeps call order across many concurrent sends of mixed sizes and types', async () => {
    const messages: Message[] = Array.from({ length: 2000 }, (_, i) =>
      i % 2 ? `message ${i} ${'x'.repeat(i % 300)}` : keystream(i, i % 500),
    );
    const { inbox } = await roundTrip(messages, { chunkSize: 64 });
    expect(inbox.messages.map(digest)).toEqual(messages.map(digest));
  });

  it('counts payload bytes in and out', async () => {
    const { sender, receiver } = await roundTrip(['héllo', bytes(100_000)]);
    expect(sender.bytesOut).toBe(100_006);
    expect(receiver.bytesIn).toBe(100_006);
  });

  it('close() rejects pending sends and leaves no timer behind', async () => {
    vi.useFakeTimers();
    try {
      const stuck: RawChannel = { send: () => {}, bufferedAmount: 4 * MiB };
      const link = new PeerLink(stuck, () => {}, { maxMessageSize: 100, chunkSize: 16, highWaterMark: 4 * MiB });
      const first = link.send('waiting for room');
      const second = link.send(bytes(50));
      expect(vi.getTimerCount()).toBe(1);
      link.close();
      link.close();
      expect(vi.getTimerCount()).toBe(0);
      await expectCode(first, 'ERR_PEER_CLOSED');
      await expectCode(second, 'ERR_PEER_CLOSED');
      await expectCode(link.send('late'), 'ERR_PEER_CLOSED');
    } finally {
      vi.useRealTimers();
    }
  });

  it('rejects the current and queued sends when the channel closes underneath', async () => {
    const { channel, sender } = connect({ chunkSize: 64 * KiB, highWaterMark: 64 * KiB });
    const current = sender.send(bytes(MiB));
    const queued = sender.send('queued');
    channel.close();
    await expectCode(current, 'ERR_PEER_CLOSED');
    await expectCode(queued, 'ERR_PEER_CLOSED');
    await expectCode(sender.send('after'), 'ERR_PEER_CLOSED');
  });

  it('survives malformed, truncated and unknown-type frames', () => {
    const { logger, entries } = recordingLogger();
    const received: Message[] = [];
    const link = new PeerLink({ send: () => {}, bufferedAmount: 0 }, (m) => received.push(m), { logger });
    const frame = (flags: number, total: number, payload: number[]): Uint8Array =>
      encodeFrame(FrameType.Message, flags, total, Uint8Array.from(payload), 0, payload.length);
    const valid = (text: string): Uint8Array => {
      const utf8 = Buffer.from(text);
      return encodeFrame(FrameType.Message, FLAG_FIRST | FLAG_LAST | FLAG_TEXT, utf8.length, utf8, 0, utf8.length);
    };

    // Each case is a run of frames; a valid message follows every run and must still arrive.
    const cases: Uint8Array[][] = [
      [new Uint8Array(0)],
      [Uint8Array.of(0)],
      [Uint8Array.of(0, FLAG_FIRST, 0, 0)], // FIRST header cut short
      [Uint8Array.of(0, 0x80, 1, 2)], // unknown flag
      [Uint8Array.of(42, FLAG_FIRST | FLAG_LAST, 0, 0, 0, 1, 9)], // unknown type: skipped, debug only
      [frame(FLAG_LAST, 0, [1, 2])], // continuation without FIRST
      [frame(FLAG_FIRST | FLAG_LAST, 3, [1, 2, 3, 4, 5])], // more bytes than announced
      [frame(FLAG_FIRST | FLAG_LAST, 9, [1, 2])], // LAST before the announced length
      // Overruns the announced 4 bytes; the message's remaining frame is then skipped quietly.
      [frame(FLAG_FIRST, 4, [1, 2]), frame(0, 0, [3, 4, 5]), frame(FLAG_LAST, 0, [6])],
      [frame(FLAG_FIRST | FLAG_LAST | FLAG_TEXT, 2, [0xc3, 0x28])], // invalid UTF-8
      [frame(FLAG_FIRST | FLAG_TEXT, 4, [0x61]), frame(FLAG_LAST, 0, [0x62, 0x63, 0x64])], // TEXT flag changes
      [frame(FLAG_FIRST, 10, [1, 2, 3])], // truncated: the next FIRST cuts it short
    ];
    const expected: string[] = [];
    cases.forEach((run, i) => {
      for (const bad of run) expect(() => link.receive(bad)).not.toThrow();
      expected.push(`ok ${i}`);
      link.receive(valid(`ok ${i}`));
    });
    expect(received).toEqual(expected);
    expect(entries.filter((e) => e.level === 'warn')).toHaveLength(cases.length - 1);
    expect(entries.filter((e) => e.level === 'debug')).toHaveLength(2);
  });

  it('keeps delivering after onMessage throws', async () => {
    const { logger, entries } = recordingLogger();
    const channel = new FakeChannel();
    const received: Message[] = [];
    const receiver = new PeerLink({ send: () => {}, bufferedAmount: 0 }, (m) => {
      received.push(m);
      if (m === 'boom') throw new Error('handler bug');
    }, { logger });
    channel.deliver = (frame) => receiver.receive(frame);
    const sender = new PeerLink(channel, () => {});
    await sender.send('boom');
    await sender.send('fine');
    await vi.waitFor(() => expect(received).toEqual(['boom', 'fine']));
    expect(entries.some((e) => e.level === 'error')).toBe(true);
  });

  it('validates options with ERR_INVALID_OPTION', () => {
    const raw: RawChannel = { send: () => {}, bufferedAmount: 0 };
    const make = (options: LinkOptions) => () => new PeerLink(raw, () => {}, options);
    expect(make({ chunkSize: 256 * KiB + 1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }) as Error);
    expect(make({ chunkSize: 6 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }) as Error);
    expect(make({ chunkSize: 64 * KiB, highWaterMark: 32 * KiB })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }) as Error);
    expect(make({ highWaterMark: 16 * MiB + 1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }) as Error);
    expect(make({ maxMessageSize: 2 ** 32 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }) as Error);
    expect(make({ pollMs: -1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }) as Error);
    expect(make({ chunkSize: 256 * KiB, highWaterMark: 16 * MiB, maxMessageSize: 2 ** 32 - 1 })).not.toThrow();
  });

  it('moves 100 MB of mixed sizes through the dropping channel intact and in order', async () => {
    const total = 100_000_000;
    const random = prng(0x5eed);
    const data = keystream(0x5eed, total);
    const messages: Message[] = [];
    for (let offset = 0; offset < total; ) {
      // Log-uniform sizes from 1 B to 8 MiB: mostly small messages, a few huge ones.
      const size = Math.min(total - offset, Math.floor(Math.exp(random() * Math.log(8 * MiB))));
      const chunk = data.subarray(offset, offset + size);
      messages.push(random() < 0.25 ? chunk.toString('latin1') : chunk);
      offset += size;
    }
    messages.push(data.subarray(0, 8 * MiB), 'x');
    const expected = messages.map(digest);
    const sentBytes = messages.reduce((sum, m) => sum + Buffer.byteLength(m), 0);

    const channel = new FakeChannel();
    const digests: string[] = [];
    const receiver = new PeerLink({ send: () => {}, bufferedAmount: 0 }, (m) => digests.push(digest(m)));
    channel.deliver = (frame) => receiver.receive(frame);
    const sender = new PeerLink(channel, () => {});

    const start = performance.now();
    await Promise.all(messages.map((m) => sender.send(m)));
    // Waiting on the channel rather than a message count fails fast, not by timeout, if frames were lost.
    await channel.drained();
    const seconds = (performance.now() - start) / 1000;

    expect(channel.dropped).toBe(0);
    expect(channel.peakBuffered).toBeLessThanOrEqual(4 * MiB);
    expect(digests).toEqual(expected);
    expect(receiver.bytesIn).toBe(sentBytes);
    console.info(
      `100 MB link transfer: ${messages.length} messages, ${channel.frameSizes.length} frames, ` +
        `${seconds.toFixed(2)} s, ${(sentBytes / MiB / seconds).toFixed(0)} MiB/s`,
    );
  });
});
