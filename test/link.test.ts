import { createCipheriv, createHash } from 'node:crypto';
import { describe, it, expect, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { CREDIT_STEP, creditPayload, readCredit } from '../src/data/credit.js';
import { FEATURE_CREDIT, FEATURE_PARTS, FLAG_RECEIPT, FLAG_TEXT, HEADER_SIZE, PART_SIZE, RecordReader, RecordType, encodeHeader, type RecordHeader } from '../src/data/framing.js';
import { splitMessage, splitSize } from '../src/data/parts.js';
import { DHT_LINK_WINDOW, PeerLink, type EndResult, type LinkHooks, type RawChannel } from '../src/data/link.js';
import type { LinkOptions } from '../src/data/linkOptions.js';
import { P2PError } from '../src/errors.js';
import type { Logger } from '../src/log.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** What the wrtc binding does past these limits: drop silently, or close the channel. */
const FAKE_DROP_LIMIT = 16 * MiB;
const FAKE_MAX_CHUNK = 256 * KiB;
/** Fast enough for a quick suite, slow enough that an unpaced sender overruns the drop limit. */
const FAKE_BYTES_PER_MS = 256 * KiB;

type Message = string | Uint8Array;

/**
 * One direction of an in-memory channel that models the wrtc binding: channel messages drain to the receiver
 * asynchronously at a bounded rate, in batches; past 16 MiB buffered they are dropped silently, and
 * a channel message over 256 KiB closes the channel so later sends throw.
 */
class FakeChannel implements RawChannel {
  /** How often the link read `bufferedAmount`: each read is a blocking native call in the binding. */
  reads = 0;
  #buffered = 0;
  peakBuffered = 0;
  dropped = 0;
  closed = false;
  readonly chunkSizes: number[] = [];
  deliver: (frame: Uint8Array) => void = () => {};
  private readonly inFlight: Uint8Array[] = [];
  private credit = 0;
  private lastDrain = 0;
  private draining = false;

  get bufferedAmount(): number {
    this.reads++;
    return this.#buffered;
  }

  /** Closes underneath the link, discarding what was still buffered. */
  close(): void {
    this.closed = true;
    this.inFlight.length = 0;
    this.#buffered = 0;
  }

  send(frame: Uint8Array): void {
    if (this.closed) throw new Error('InvalidStateError: RTCDataChannel.readyState is not "open"');
    if (frame.length > FAKE_MAX_CHUNK) {
      this.close();
      return;
    }
    if (this.#buffered + frame.length > FAKE_DROP_LIMIT) {
      this.dropped++;
      return;
    }
    this.chunkSizes.push(frame.length);
    // A copy, as the network would make: the receiver must not see later changes to the sender's bytes.
    this.inFlight.push(new Uint8Array(frame));
    this.#buffered += frame.length;
    this.peakBuffered = Math.max(this.peakBuffered, this.#buffered);
    this.startDraining();
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
      this.#buffered -= next.length;
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
  channel.deliver = (chunk) => receiver.receive(chunk);
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
  it('encodes the documented header layout', () => {
    expect([...encodeHeader(RecordType.Message, FLAG_TEXT, 300)]).toEqual([0, FLAG_TEXT, 0, 0, 1, 44]);
    expect([...encodeHeader(RecordType.Message, 0, 0xffff_ffff)]).toEqual([0, 0, 255, 255, 255, 255]);
  });

  it('reads records back whatever the channel message boundaries, with headers split too', () => {
    const stream = Buffer.concat([
      encodeHeader(RecordType.Message, 0, 3), Buffer.of(1, 2, 3),
      encodeHeader(RecordType.Message, FLAG_TEXT, 0),
      encodeHeader(RecordType.Message, 0, 5), Buffer.of(4, 5, 6, 7, 8),
    ]);
    const expected = [[0, 1, 2, 3], [FLAG_TEXT], [0, 4, 5, 6, 7, 8]];
    // Every split of the stream into 1 to 3 channel messages, at every position.
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j++) {
        const got: number[][] = [];
        const reader = new RecordReader(() => true, (h, payload) => got.push([h.flags, ...payload]));
        for (const chunk of [stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]) reader.push(chunk);
        expect(got, `split at ${i}, ${j}`).toEqual(expected);
      }
    }
  });

  it('skips refused payloads without buffering them and keeps its place', () => {
    const got: RecordHeader[] = [];
    const reader = new RecordReader((h) => h.type === 0, (h) => got.push(h));
    reader.push(Buffer.concat([encodeHeader(7 as RecordType, 0, 1000), Buffer.alloc(400)]));
    reader.push(Buffer.concat([Buffer.alloc(600), encodeHeader(RecordType.Message, 0, 1), Buffer.of(9)]));
    expect(got).toEqual([{ type: 0, flags: 0, length: 1 }]);
  });

  it('copies a small record out of a large channel message and gives a large one as a view', () => {
    const big = Buffer.concat([encodeHeader(RecordType.Message, 0, 200), Buffer.alloc(200, 1), encodeHeader(RecordType.Message, 0, 2), Buffer.of(2, 2)]);
    const payloads: Uint8Array[] = [];
    new RecordReader(() => true, (_, payload) => payloads.push(payload)).push(big);
    big.fill(0);
    expect(payloads[0]![0]).toBe(0);
    expect([...payloads[1]!]).toEqual([2, 2]);
  });
});

describe('fake channel', () => {
  it('drops channel messages once more than 16 MiB are buffered, so an unpaced sender loses data', () => {
    const channel = new FakeChannel();
    for (let i = 0; i < 300; i++) channel.send(bytes(64 * KiB));
    expect(channel.dropped).toBeGreaterThan(0);
  });

  it('closes on a channel message over 256 KiB, after which sends throw', () => {
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
    // 9-byte channel messages walk the 1- to 4-byte characters across every boundary.
    const text = 'aé€😀'.repeat(40);
    const { inbox } = await roundTrip([text], { chunkSize: 9 });
    expect(inbox.messages).toEqual([text]);
  });

  it('delivers the empty string and the empty Uint8Array', async () => {
    const { inbox, channel } = await roundTrip(['', new Uint8Array(0), '']);
    expect(inbox.messages[0]).toBe('');
    expect(inbox.messages[1]).toBeInstanceOf(Uint8Array);
    expect((inbox.messages[1] as Uint8Array).length).toBe(0);
    expect(channel.chunkSizes).toEqual([HEADER_SIZE, 2 * HEADER_SIZE]);
  });

  it.each([
    { chunkSize: 16, size: 10, chunks: [16] },
    { chunkSize: 16, size: 11, chunks: [16, 1] },
    { chunkSize: 16, size: 26, chunks: [16, 16] },
    { chunkSize: 16, size: 27, chunks: [16, 16, 1] },
    { chunkSize: 256 * KiB, size: 256 * KiB - HEADER_SIZE, chunks: [256 * KiB] },
    { chunkSize: 256 * KiB, size: 256 * KiB, chunks: [256 * KiB, HEADER_SIZE] },
    { chunkSize: 256 * KiB, size: 4 * MiB, chunks: [...Array<number>(16).fill(256 * KiB), HEADER_SIZE] },
  ])('sends $size bytes as channel messages of $chunks.length size(s) up to $chunkSize', async ({ chunkSize, size, chunks }) => {
    const payload = keystream(size, size);
    const { inbox, channel } = await roundTrip([payload], { chunkSize });
    expect(channel.chunkSizes).toEqual(chunks);
    expect(Buffer.from(inbox.messages[0] as Uint8Array).equals(payload)).toBe(true);
  });

  it('packs messages queued together into as few channel messages as the chunk size allows', async () => {
    const messages = Array.from({ length: 1000 }, (_, i) => keystream(i, 1000));
    const { inbox, channel } = await roundTrip(messages);
    // The first goes at once; the other 999 × (6 + 1000) bytes are packed at the end of the turn.
    const rest = 999 * (HEADER_SIZE + 1000);
    expect(channel.chunkSizes).toEqual([HEADER_SIZE + 1000, 256 * KiB, 256 * KiB, 256 * KiB, rest - 3 * 256 * KiB]);
    expect(inbox.messages.map(digest)).toEqual(messages.map(digest));
  });

  it('sends a lone small message at once, unpacked and undelayed', async () => {
    const { channel, sender } = connect();
    const sent = sender.send('ping');
    expect(channel.chunkSizes).toEqual([HEADER_SIZE + 4]);
    await sent;
  });

  it('packs sequentially awaited sends: send() resolves once the message fits under the mark', async () => {
    const { channel, sender, inbox } = connect();
    for (let i = 0; i < 1000; i++) await sender.send(keystream(i, 1000));
    await inbox.until(1000);
    expect(channel.chunkSizes.length).toBeLessThanOrEqual(6);
    expect(channel.chunkSizes.reduce((a, b) => a + b, 0)).toBe(1000 * (HEADER_SIZE + 1000));
  });

  it('sends the chunks inside one payload as views of it, copies the others, and delivers the message intact', async () => {
    const payload = keystream(7, MiB + 1000);
    const chunks: { view: boolean; bytes: Buffer }[] = [];
    const receiver = new PeerLink({ send: () => {}, bufferedAmount: 0 }, (m) => void received.push(m), {});
    const received: Message[] = [];
    const raw = {
      bufferedAmount: 0,
      send(chunk: Uint8Array) {
        chunks.push({ view: chunk.buffer === payload.buffer, bytes: Buffer.from(chunk) });
        receiver.receive(chunk);
      },
    };
    const link = new PeerLink(raw, () => {}, { chunkSize: 256 * KiB });
    await link.send(payload);
    await vi.waitFor(() => expect(received).toHaveLength(1));
    // Chunk 1 holds the header (a copy); the other four, its last 1006 bytes included, lie inside the payload.
    expect(chunks.map((c) => [c.view, c.bytes.length])).toEqual([[false, 256 * KiB], [true, 256 * KiB], [true, 256 * KiB], [true, 256 * KiB], [true, 1006]]);
    expect(Buffer.compare(Buffer.from(received[0] as Uint8Array), payload)).toBe(0);
    link.close();
    receiver.close();
  });

  it('holds send() back while the queue and the channel buffer are at the mark', async () => {
    const raw = { sent: 0, bufferedAmount: 1000, send(chunk: Uint8Array) { this.sent += chunk.length; } };
    const link = new PeerLink(raw, () => {}, { chunkSize: 100, highWaterMark: 1000, pollMs: 1 });
    let resolved = false;
    const pending = link.send(bytes(10)).then(() => (resolved = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(resolved).toBe(false);
    expect(raw.sent).toBe(0);
    raw.bufferedAmount = 0;
    await pending;
    expect(raw.sent).toBe(HEADER_SIZE + 10);
    link.close();
  });

  it('holds a partial chunk back while the channel has plenty to send, and sends it once it runs low', async () => {
    const raw = { sizes: [] as number[], bufferedAmount: MiB, send(chunk: Uint8Array) { this.sizes.push(chunk.length); } };
    const link = new PeerLink(raw, () => {}, { pollMs: 1 });
    await link.send(bytes(100)); // accepted at once: 1 MiB + 106 B is within the 4 MiB mark
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(raw.sizes).toEqual([]);
    raw.bufferedAmount = 0;
    await vi.waitFor(() => expect(raw.sizes).toEqual([HEADER_SIZE + 100]));
    link.close();
  });

  it('reads bufferedAmount only when its own count says the next chunk might not fit', async () => {
    const { channel, sender, inbox } = connect({ chunkSize: 16 * KiB, highWaterMark: 64 * KiB });
    for (let i = 0; i < 100; i++) await sender.send(bytes(100));
    expect(channel.reads).toBe(1); // the first send: the channel may have been used before the link
    // 10 MB through a 64 KiB mark: at most one read per chunk sent or per poll.
    await Promise.all(Array.from({ length: 160 }, () => sender.send(bytes(64 * KiB))));
    await inbox.until(260);
    expect(channel.peakBuffered).toBeLessThanOrEqual(64 * KiB);
    expect(channel.reads).toBeGreaterThan(0);
    expect(channel.reads).toBeLessThanOrEqual(channel.chunkSizes.length * 2);
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
    expect(entries.some((e) => e.level === 'warn' && /maxMessageSize/.test(e.msg ?? ''))).toBe(true);
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
      expect(vi.getTimerCount()).toBe(2); // the buffer poll and the end-of-turn flush
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

  it('skips unknown types, unknown flags, oversize and invalid UTF-8 records and delivers what follows', () => {
    const { logger, entries } = recordingLogger();
    const received: Message[] = [];
    const link = new PeerLink({ send: () => {}, bufferedAmount: 0 }, (m) => void received.push(m), { logger, maxMessageSize: 100 });
    const record = (type: number, flags: number, payload: number[] | Buffer): Buffer =>
      Buffer.concat([encodeHeader(type as RecordType, flags, payload.length), Buffer.from(payload)]);
    const valid = (text: string): Buffer => record(RecordType.Message, FLAG_TEXT, Buffer.from(text));

    // Each case is a run of channel messages; a valid message follows every run and must still arrive.
    const cases: { run: Buffer[]; level: 'debug' | 'warn' | 'none' }[] = [
      { run: [Buffer.alloc(0)], level: 'none' },
      { run: [record(42, 0, [1, 2, 3])], level: 'debug' }, // unknown type
      { run: [record(RecordType.Message, 0x80, [1])], level: 'warn' }, // unknown flag
      { run: [record(RecordType.Message, 0, Buffer.alloc(101))], level: 'warn' }, // over maxMessageSize
      { run: [record(RecordType.Message, FLAG_TEXT, [0xc3, 0x28])], level: 'warn' }, // invalid UTF-8
      // An oversize record announced in one channel message and skipped across the next three.
      { run: [record(RecordType.Message, 0, Buffer.alloc(5000)).subarray(0, 7), Buffer.alloc(2000), Buffer.alloc(2000), Buffer.alloc(999)], level: 'warn' },
    ];
    const expected: string[] = [];
    cases.forEach(({ run }, i) => {
      for (const bad of run) expect(() => link.receive(bad)).not.toThrow();
      expected.push(`ok ${i}`);
      link.receive(valid(`ok ${i}`));
    });
    expect(received).toEqual(expected);
    expect(entries.filter((e) => e.level === 'warn')).toHaveLength(cases.filter((c) => c.level === 'warn').length);
    expect(entries.filter((e) => e.level === 'debug')).toHaveLength(cases.filter((c) => c.level === 'debug').length);
  });

  it('survives any bytes: 2,000 random channel messages never throw', () => {
    const random = prng(7);
    const link = new PeerLink({ send: () => {}, bufferedAmount: 0 }, () => {}, { maxMessageSize: 4096 });
    for (let i = 0; i < 2000; i++) {
      const chunk = keystream(i, Math.floor(random() * 64));
      expect(() => link.receive(chunk)).not.toThrow();
    }
  });

  it('keeps delivering after onMessage throws', async () => {
    const { logger, entries } = recordingLogger();
    const channel = new FakeChannel();
    const received: Message[] = [];
    const receiver = new PeerLink({ send: () => {}, bufferedAmount: 0 }, (m) => {
      received.push(m);
      if (m === 'boom') throw new Error('handler bug');
    }, { logger });
    channel.deliver = (chunk) => receiver.receive(chunk);
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
    expect(make({ chunkSize: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }) as Error);
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
    const receiver = new PeerLink({ send: () => {}, bufferedAmount: 0 }, (m) => void digests.push(digest(m)));
    channel.deliver = (chunk) => receiver.receive(chunk);
    const sender = new PeerLink(channel, () => {});

    const start = performance.now();
    await Promise.all(messages.map((m) => sender.send(m)));
    // send() resolves once a message is accepted, not sent: wait for the last one, or for a loss.
    await vi.waitFor(() => expect(digests.length === expected.length || channel.dropped > 0).toBe(true), { timeout: 30_000, interval: 5 });
    const seconds = (performance.now() - start) / 1000;

    expect(channel.dropped).toBe(0);
    expect(channel.peakBuffered).toBeLessThanOrEqual(4 * MiB);
    expect(digests).toEqual(expected);
    expect(receiver.bytesIn).toBe(sentBytes);
    console.info(
      `100 MB link transfer: ${messages.length} messages, ${channel.chunkSizes.length} channel messages, ` +
        `${seconds.toFixed(2)} s, ${(sentBytes / MiB / seconds).toFixed(0)} MiB/s`,
    );
  });
});

/** Two links joined both ways by {@link FakeChannel}s, each with its own hooks. */
function duplex(options: LinkOptions = {}, hooks: { a?: LinkHooks; b?: LinkHooks } = {}) {
  const [ab, ba] = [new FakeChannel(), new FakeChannel()];
  const [inboxA, inboxB] = [new Inbox(), new Inbox()];
  const a = new PeerLink(ab, inboxA.push, options, hooks.a);
  const b = new PeerLink(ba, inboxB.push, options, hooks.b);
  ab.deliver = (chunk) => b.receive(chunk);
  ba.deliver = (chunk) => a.receive(chunk);
  return { a, b, ab, ba, inboxA, inboxB };
}

/** The record types a channel carried, in order. */
function recordTypes(chunks: Uint8Array[]): number[] {
  const types: number[] = [];
  const reader = new RecordReader(() => true, (header) => types.push(header.type));
  for (const chunk of chunks) reader.push(chunk);
  return types;
}

class RecordingChannel implements RawChannel {
  readonly chunks: Uint8Array[] = [];
  bufferedAmount = 0;
  send(chunk: Uint8Array): void {
    this.chunks.push(new Uint8Array(chunk));
  }
}

describe('PeerLink liveness', () => {
  it('sends a heartbeat only after an interval without sending anything else', async () => {
    let now = 0;
    const channel = new RecordingChannel();
    const link = new PeerLink(channel, () => {}, { now: () => now, heartbeat: { intervalMs: 1000 } });
    now = 999;
    link.tick();
    expect(channel.chunks).toHaveLength(0);
    await link.send('data');
    now = 1500;
    link.tick(); // data left at 999: not quiet for an interval yet
    expect(recordTypes(channel.chunks)).toEqual([RecordType.Message]);
    now = 1999;
    link.tick();
    expect(recordTypes(channel.chunks)).toEqual([RecordType.Message, RecordType.Heartbeat]);
    expect(channel.chunks.at(-1)).toHaveLength(HEADER_SIZE);
    now = 2500;
    link.tick();
    expect(recordTypes(channel.chunks)).toHaveLength(2);
  });

  it('reports the peer lost once, after missedBeats intervals of silence; anything heard resets it', () => {
    let now = 0;
    const lost = vi.fn();
    const link = new PeerLink(new RecordingChannel(), () => {}, { now: () => now, heartbeat: { intervalMs: 1000, missedBeats: 4 } }, { lost });
    now = 3999;
    link.tick();
    link.receive(encodeHeader(RecordType.Heartbeat, 0, 0));
    now = 7998;
    link.tick();
    expect(lost).not.toHaveBeenCalled();
    now = 7999;
    link.tick();
    now = 9000;
    link.tick();
    expect(lost.mock.calls).toEqual([[4000]]);
  });

  it('says once when the peer misses a beat, and starts a new silence when revived from below the channel', () => {
    let now = 0;
    const [silent, lost] = [vi.fn(), vi.fn()];
    const link = new PeerLink(new RecordingChannel(), () => {}, { now: () => now, heartbeat: { intervalMs: 1000, missedBeats: 4 } }, { silent, lost });
    for (now = 0; now <= 3999; now += 250) link.tick();
    expect(silent).toHaveBeenCalledTimes(1);
    expect(lost).not.toHaveBeenCalled();
    now = 4000;
    link.tick();
    expect(lost.mock.calls).toEqual([[4000]]);
    link.revive(); // ICE still hears the peer: the channel is only stalled
    for (now = 4250; now <= 8000; now += 250) link.tick();
    expect(silent).toHaveBeenCalledTimes(2);
    expect(lost.mock.calls).toEqual([[4000], [4000]]);
  });

  /** A link on a hand-driven clock with `missedBeats` of 1 s, its stall and loss hooks, and `until(ms)` to tick every 250 ms. */
  function stallingLink(missedBeats: number) {
    let now = 0;
    const [stalled, lost] = [vi.fn(), vi.fn()];
    const link = new PeerLink(new RecordingChannel(), () => {}, { now: () => now, heartbeat: { intervalMs: 1000, missedBeats } }, { stalled, lost });
    const until = (end: number) => {
      for (; now <= end; now += 250) link.tick();
    };
    return { link, stalled, lost, until };
  }

  it('reports the stall once, halfway to the loss, and again in the next silence', () => {
    const { link, stalled, lost, until } = stallingLink(4);
    until(1999);
    expect(stalled).not.toHaveBeenCalled();
    until(3999);
    expect(stalled.mock.calls).toEqual([[2000]]);
    expect(lost).not.toHaveBeenCalled();
    link.receive(encodeHeader(RecordType.Heartbeat, 0, 0)); // the restart worked
    until(6000);
    expect(stalled.mock.calls).toEqual([[2000], [2000]]);
  });

  it('reports the stall after whole intervals: one of three beats to miss', () => {
    const { stalled, lost, until } = stallingLink(3);
    until(3000);
    expect(stalled.mock.calls).toEqual([[1000]]);
    expect(lost.mock.calls).toEqual([[3000]]);
  });

  it('hears a heartbeat from the other side as life, and delivers nothing for it', () => {
    const { a, b, inboxB } = duplex();
    b.receive(encodeHeader(RecordType.Heartbeat, 0, 0));
    expect(inboxB.messages).toEqual([]);
    a.close();
    b.close();
  });
});

describe('PeerLink end of stream', () => {
  it('delivers everything accepted before End, both ways, then acknowledges: 200 × 64 KiB and a 20 MB message', async () => {
    const remoteEnd = vi.fn();
    const { a, b, inboxA, inboxB } = duplex({}, { b: { remoteEnd } });
    const chunk = new Uint8Array(64 * KiB);
    const sends = Array.from({ length: 200 }, () => a.send(chunk));
    sends.push(a.send(new Uint8Array(20 * 1000 * 1000)));
    const replies = Array.from({ length: 50 }, (_, i) => b.send(`reply ${i}`));
    const ended = new Promise<EndResult>((resolve) => a.end(10_000, resolve));
    await expect(a.send('too late')).rejects.toMatchObject({ code: 'ERR_PEER_CLOSED' });
    expect(await ended).toEqual({ acknowledged: true, unsent: 0 });
    await Promise.all([...sends, ...replies]);
    expect(inboxB.messages).toHaveLength(201);
    expect(inboxA.messages).toEqual(Array.from({ length: 50 }, (_, i) => `reply ${i}`));
    expect(remoteEnd).toHaveBeenCalledTimes(1);
    await expect(b.send('after the end')).rejects.toMatchObject({ code: 'ERR_PEER_CLOSED' });
    a.close();
    b.close();
  });

  it('after the timeout, or when the link closes first, reports the bytes that never left', async () => {
    const silent = { send: () => {}, bufferedAmount: 4096 };
    const timedOut = new PeerLink(silent, () => {});
    await timedOut.send('x');
    expect(await new Promise<EndResult>((resolve) => timedOut.end(20, resolve))).toEqual({ acknowledged: false, unsent: 4096 });
    const closing = new PeerLink(silent, () => {});
    const result = new Promise<EndResult>((resolve) => closing.end(60_000, resolve));
    closing.close();
    expect(await result).toEqual({ acknowledged: false, unsent: 4096 });
  });

  it('answers End with EndAck even while ending itself, so both ends finish', async () => {
    const { a, b } = duplex();
    const both = Promise.all([new Promise<EndResult>((r) => a.end(10_000, r)), new Promise<EndResult>((r) => b.end(10_000, r))]);
    expect(await both).toEqual([{ acknowledged: true, unsent: 0 }, { acknowledged: true, unsent: 0 }]);
    a.close();
    b.close();
  });
});

describe('PeerLink delivery receipts', () => {
  it('resolves a send with a receipt once the far side took it, in order with sends without', async () => {
    const { a, b, inboxB } = duplex();
    const order: string[] = [];
    await Promise.all([
      a.send('first', { receipt: true }).then(() => order.push('first')),
      a.send('second').then(() => order.push('second accepted')),
      a.send(new Uint8Array(300 * KiB), { receipt: true }).then(() => order.push('third')),
    ]);
    expect(inboxB.messages).toHaveLength(3);
    expect(order).toEqual(['second accepted', 'first', 'third']);
    a.close();
    b.close();
  });

  it('rejects with ERR_NOT_DELIVERED when the far side drops the message, saying why', async () => {
    const tooSmall = duplex({}, {});
    const small = new PeerLink({ send: (chunk) => tooSmall.a.receive(chunk), bufferedAmount: 0 }, () => {}, { maxMessageSize: 10 });
    tooSmall.ab.deliver = (chunk) => small.receive(chunk);
    await expect(tooSmall.a.send('more than ten bytes', { receipt: true })).rejects.toMatchObject({
      code: 'ERR_NOT_DELIVERED',
      message: "the peer dropped the message: it is over the receiver's maxMessageSize",
    });
    const unread = new PeerLink({ send: (chunk) => tooSmall.a.receive(chunk), bufferedAmount: 0 }, () => false);
    tooSmall.ab.deliver = (chunk) => unread.receive(chunk);
    await expect(tooSmall.a.send('nobody reads', { receipt: true })).rejects.toMatchObject({ code: 'ERR_NOT_DELIVERED' });
    tooSmall.a.close();
  });

  it('answers a receipt even for text that is not UTF-8, and rejects waiting senders when the link closes', async () => {
    const channel = new RecordingChannel();
    const receiver = new PeerLink(channel, () => {});
    receiver.receive(Buffer.concat([encodeHeader(RecordType.Message, FLAG_TEXT | FLAG_RECEIPT, 2), Buffer.from([0xff, 0xfe])]));
    await new Promise((resolve) => setImmediate(resolve));
    const receipts: Uint8Array[] = [];
    new RecordReader(() => true, (header, payload) => header.type === RecordType.Receipt && receipts.push(new Uint8Array(payload))).push(channel.chunks[0]!);
    expect(receipts).toEqual([Uint8Array.of(3)]);
    const sender = new PeerLink(new RecordingChannel(), () => {});
    const waiting = sender.send('x', { receipt: true });
    sender.close();
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_PEER_CLOSED' });
  });
});

describe('PeerLink message parts (both ends run a DHT)', () => {
  /** A duplex pair whose ends both run a DHT, recording what each end's DHT handler got and what crossed a→b. */
  async function dhtPair(options: LinkOptions = {}, dht = { a: true, b: true }) {
    const pair = duplex(options);
    const dhtAtB: string[] = [];
    const crossed: Array<{ type: number; flags: number; length: number }> = [];
    const watch = new RecordReader(
      (header) => (crossed.push({ ...header }), false),
      () => {},
    );
    const deliverToB = pair.ab.deliver;
    pair.ab.deliver = (chunk) => {
      watch.push(chunk);
      deliverToB(chunk);
    };
    if (dht.a) pair.a.onDht = () => {};
    if (dht.b) pair.b.onDht = (payload) => dhtAtB.push(Buffer.from(payload).toString());
    // Each end's features record crosses before the test sends anything.
    await new Promise((resolve) => setTimeout(resolve, 5));
    return { ...pair, dhtAtB, crossed };
  }

  it('sends a long message as 64 KiB parts and a final record, and delivers it whole', async () => {
    const { a, inboxB, crossed } = await dhtPair();
    const message = keystream(1, MiB + 123);
    await a.send(message);
    await inboxB.until(1);
    expect(Buffer.from(inboxB.messages[0] as Uint8Array).equals(message)).toBe(true);
    const records = crossed.filter((r) => r.type === RecordType.Part || r.type === RecordType.Message);
    expect(records.map((r) => r.type)).toEqual([...Array(16).fill(RecordType.Part), RecordType.Message]);
    expect(records.slice(0, 16).every((r) => r.length === PART_SIZE && r.flags === 0)).toBe(true);
    expect(records.at(-1)!.length).toBe(123);
    expect(crossed[0]!.type).toBe(RecordType.Features);
  });

  it('lets a DHT record queued after a long message started overtake the rest of it', async () => {
    const highWaterMark = MiB;
    const { a, inboxB, dhtAtB, crossed } = await dhtPair({ highWaterMark });
    const sent = a.send(keystream(2, 16 * MiB));
    // The first chunks have left: the message has started, and what the channel holds stays ahead.
    expect(a.sendDht(Buffer.from('lookup'))).toBe(true);
    await sent;
    await inboxB.until(1);
    expect(dhtAtB).toEqual(['lookup']);
    const dhtAt = crossed.findIndex((r) => r.type === RecordType.Dht);
    const lastAt = crossed.findIndex((r) => r.type === RecordType.Message);
    expect(dhtAt).toBeGreaterThan(0);
    expect(dhtAt).toBeLessThan(lastAt);
    // Ahead of it: what the channel held (up to the high-water mark) and the part being packed.
    expect(crossed.slice(0, dhtAt).filter((r) => r.type === RecordType.Part).length).toBeLessThanOrEqual(highWaterMark / PART_SIZE + 1);
  });

  it('keeps DHT records queued ahead in the order they were queued', async () => {
    const { a, dhtAtB } = await dhtPair();
    void a.send(keystream(3, MiB));
    for (const text of ['offer', 'candidate 1', 'candidate 2']) a.sendDht(Buffer.from(text));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(dhtAtB).toEqual(['offer', 'candidate 1', 'candidate 2']);
  });

  it('sends one record, as ever, unless both ends run a DHT', async () => {
    for (const dht of [
      { a: true, b: false },
      { a: false, b: true },
    ]) {
      const { a, inboxB, crossed } = await dhtPair({}, dht);
      await a.send(keystream(4, MiB));
      await inboxB.until(1);
      expect(crossed.filter((r) => r.type !== RecordType.Features && r.type !== RecordType.Dht)).toEqual([{ type: RecordType.Message, flags: 0, length: MiB }]);
    }
  });

  it('reassembles text split inside a character, and answers receipts for the whole message', async () => {
    const { a, inboxB } = await dhtPair();
    const text = '€'.repeat(50_000); // 150,000 bytes: parts end inside a 3-byte character
    await a.send(text, { receipt: true });
    await inboxB.until(1);
    expect(inboxB.messages[0]).toBe(text);
  });

  it('refuses a message whose parts pass the receiver’s limit, skips the rest and keeps its place', async () => {
    const { a, inboxB } = await dhtPair({ maxMessageSize: 200 * KiB });
    // The sender's own limit is the same: send one that fits, then check a crafted one on the receiver.
    await expect(a.send(keystream(5, 200 * KiB), { receipt: true })).resolves.toBeUndefined();
    const { logger, entries } = recordingLogger();
    const channel = new RecordingChannel();
    const delivered: Message[] = [];
    const receiver = new PeerLink(channel, (m) => void delivered.push(m), { maxMessageSize: 100, logger });
    const part = (n: number) => Buffer.concat([encodeHeader(RecordType.Part, 0, n), Buffer.alloc(n, 1)]);
    receiver.receive(Buffer.concat([part(60), part(60), part(60), encodeHeader(RecordType.Message, FLAG_RECEIPT, 5), Buffer.alloc(5, 2)]));
    receiver.receive(Buffer.concat([part(40), encodeHeader(RecordType.Message, 0, 2), Buffer.of(7, 8)]));
    expect(delivered.map((m) => [...(m as Uint8Array)])).toEqual([[...Array(40).fill(1), 7, 8]]);
    await new Promise((resolve) => setImmediate(resolve));
    const receipts: number[] = [];
    new RecordReader(() => true, (h, payload) => h.type === RecordType.Receipt && receipts.push(payload[0]!)).push(Buffer.concat(channel.chunks));
    expect(receipts).toEqual([2]);
    expect(entries.some((e) => e.level === 'warn')).toBe(true);
    expect(inboxB.messages).toHaveLength(1);
  });

  it('drops a message whose part carries flags, and one cut short by the end of the stream', () => {
    const delivered: Message[] = [];
    const receiver = new PeerLink(new RecordingChannel(), (m) => void delivered.push(m));
    const bad = Buffer.concat([encodeHeader(RecordType.Part, FLAG_TEXT, 2), Buffer.of(1, 2), encodeHeader(RecordType.Message, 0, 1), Buffer.of(3)]);
    receiver.receive(bad);
    receiver.receive(Buffer.concat([encodeHeader(RecordType.Part, 0, 2), Buffer.of(4, 5), encodeHeader(RecordType.End, 0, 0)]));
    expect(delivered).toEqual([]);
  });

  it('reads features with unknown bits and extra bytes, and splits only when bit 0x01 is set', async () => {
    const cases: Array<[Buffer, number[]]> = [
      [Buffer.of(0xff, 1, 2, 3), [RecordType.Features, RecordType.Part, RecordType.Message]],
      [Buffer.of(0xfe, 0xff), [RecordType.Features, RecordType.Message]],
      [Buffer.alloc(65, 0xff), [RecordType.Features, RecordType.Message]], // over 64 bytes: skipped
    ];
    for (const [features, types] of cases) {
      const channel = new RecordingChannel();
      const link = new PeerLink(channel, () => {});
      link.onDht = () => {};
      link.receive(Buffer.concat([encodeHeader(RecordType.Features, 0, features.length), features]));
      await link.send(new Uint8Array(PART_SIZE + 1));
      await new Promise((resolve) => setImmediate(resolve));
      expect(recordTypes(channel.chunks)).toEqual(types);
    }
  });

  it('counts every part header in the bytes it reports unsent', async () => {
    const channel = new RecordingChannel();
    channel.bufferedAmount = 10 * MiB; // the channel is full: nothing leaves
    const link = new PeerLink(channel, () => {});
    link.onDht = () => {};
    link.receive(features(FEATURE_PARTS));
    const sent = link.send(new Uint8Array(MiB + 1));
    const result = await new Promise<EndResult>((resolve) => link.end(0, resolve));
    // Our features record, the message in 17 records, the end record, and what the channel holds.
    expect(result).toEqual({ acknowledged: false, unsent: HEADER_SIZE + 1 + splitSize(MiB + 1) + HEADER_SIZE + 10 * MiB });
    link.close();
    await expectCode(sent, 'ERR_PEER_CLOSED');
  });

  it('rejects a message cut off between its parts when the link closes, with or without a receipt', async () => {
    const { a, ab } = await dhtPair();
    const plain = a.send(keystream(8, 4 * MiB));
    const withReceipt = a.send(keystream(9, 4 * MiB), { receipt: true });
    expect(ab.chunkSizes.length).toBeGreaterThan(0); // the first message has started
    a.close();
    await expectCode(plain, 'ERR_PEER_CLOSED');
    await expectCode(withReceipt, 'ERR_PEER_CLOSED');
  });

  it('delivers random messages intact, in order, with DHT records between their pieces', async () => {
    const random = prng(7);
    const { a, inboxB, dhtAtB } = await dhtPair({ chunkSize: 100_000 });
    const messages = Array.from({ length: 40 }, (_, i) => keystream(100 + i, Math.floor(random() * 400 * KiB)));
    const sends: Promise<void>[] = [];
    for (const [i, message] of messages.entries()) {
      sends.push(a.send(message));
      if (random() < 0.5) a.sendDht(Buffer.from(`dht ${i}`));
    }
    await Promise.all(sends);
    await inboxB.until(messages.length);
    expect(inboxB.messages.map(digest)).toEqual(messages.map(digest));
    expect(dhtAtB).toEqual([...dhtAtB].sort((x, y) => Number(x.slice(4)) - Number(y.slice(4))));
  });
});

describe('the message parts test vector (docs/protocol.md §13.3)', () => {
  it('is what the encoder writes, and reads back as one message', async () => {
    const doc = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8');
    const block = doc.slice(doc.indexOf('### 13.3')).split('```')[1]!;
    const hex = (name: string) => block.match(new RegExp(`^${name}:\\s+([0-9a-f ]+)`, 'm'))![1]!.trim().replaceAll(' ', '');
    const message = Uint8Array.from({ length: 65_540 }, (_, i) => i % 256);
    const [part, last] = splitMessage(message, FLAG_RECEIPT);
    const dht = Buffer.from('{"t":"needed"}');
    expect(features(FEATURE_PARTS).toString('hex')).toBe(hex('features'));
    expect(Buffer.from(part!.header).toString('hex')).toBe(hex('part'));
    expect(Buffer.concat([encodeHeader(RecordType.Dht, 0, dht.length), dht]).toString('hex')).toBe(hex('dht'));
    expect(Buffer.concat([last!.header, last!.payload]).toString('hex')).toBe(hex('message'));
    // A receiver that runs a DHT gets the DHT record and the whole message, and answers one receipt.
    const channel = new RecordingChannel();
    const delivered: Message[] = [];
    const dhtGot: string[] = [];
    const receiver = new PeerLink(channel, (m) => void delivered.push(m));
    receiver.onDht = (payload) => dhtGot.push(Buffer.from(payload).toString());
    receiver.receive(Buffer.from(hex('features') + hex('part') + Buffer.from(part!.payload).toString('hex') + hex('dht') + hex('message'), 'hex'));
    expect(dhtGot).toEqual(['{"t":"needed"}']);
    expect(Buffer.from(delivered[0] as Uint8Array).equals(message)).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(recordTypes(channel.chunks)).toEqual([RecordType.Features, RecordType.Receipt, RecordType.Credit]);
    // It read 65,579 bytes: its credit record is the §13.4 test vector.
    const credit = doc.slice(doc.indexOf('### 13.4')).split('```')[1]!.match(/^credit:\s+([0-9a-f ]+)/m)![1]!.trim().replaceAll(' ', '');
    expect(Buffer.from(channel.chunks.at(-1)!).toString('hex')).toBe(credit);
  });
});

describe('PeerLink on a DHT link', () => {
  it('keeps what the peer has not read within the credit window, so DHT records wait behind little, where other links fill 4 MiB', async () => {
    for (const dht of [false, true]) {
      const { a, b, ab, inboxB } = duplex();
      if (dht) {
        a.onDht = () => {};
        b.onDht = () => {};
        // Until b's features record arrives, a does not know b sends credit.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await Promise.all(Array.from({ length: 64 }, () => a.send(bytes(128 * KiB))));
      await inboxB.until(64);
      // The fake hands each channel message to the peer's link as it drains: what it holds is unread.
      if (dht) expect(ab.peakBuffered).toBeLessThanOrEqual(DHT_LINK_WINDOW);
      else expect(ab.peakBuffered).toBeGreaterThan(2 * MiB);
    }
  });

  it('keeps within the mark a peer that sends no credit', async () => {
    const channel = new RecordingChannel();
    const link = new PeerLink(channel, () => {});
    link.onDht = () => {};
    link.receive(features(FEATURE_PARTS));
    link.send(new Uint8Array(2 * MiB)).catch(() => {});
    channel.bufferedAmount = 0; // the channel drains at once: only the mark would stop it
    await new Promise((resolve) => setImmediate(resolve));
    expect(sum(channel.chunks)).toBeGreaterThan(DHT_LINK_WINDOW);
    link.close();
  });

  it('sends no more than the window until the peer credits it, and lets DHT records past a closed window', async () => {
    const channel = new RecordingChannel();
    const link = new PeerLink(channel, () => {});
    link.onDht = () => {};
    link.receive(features(FEATURE_PARTS | FEATURE_CREDIT));
    const sent = link.send(new Uint8Array(2 * MiB));
    await new Promise((resolve) => setImmediate(resolve));
    expect(sum(channel.chunks)).toBe(DHT_LINK_WINDOW);
    expect(link.sendDht(Buffer.from('lookup'))).toBe(true);
    expect(recordTypes(channel.chunks).includes(RecordType.Dht)).toBe(false); // it waits for the part being sent
    // The part under way finishes on credit, then the DHT record goes first, past a window still closed.
    link.receive(credit(CREDIT_STEP));
    await new Promise((resolve) => setImmediate(resolve));
    const types = recordTypes(channel.chunks);
    expect(types.includes(RecordType.Dht)).toBe(true);
    expect(sum(channel.chunks)).toBeLessThanOrEqual(DHT_LINK_WINDOW + CREDIT_STEP + HEADER_SIZE + 'lookup'.length);
    // Credit for everything: the message finishes.
    for (let sent = 0; sent < 3 * MiB; sent += CREDIT_STEP) link.receive(credit(CREDIT_STEP));
    await sent;
    link.close();
  });

  it('credits the peer with every byte it read, once a step is owed, and only after its features said it would', () => {
    const channel = new RecordingChannel();
    const link = new PeerLink(channel, () => {});
    const message = (n: number) => Buffer.concat([encodeHeader(RecordType.Message, 0, n), Buffer.alloc(n)]);
    link.receive(message(CREDIT_STEP)); // read before the link runs a DHT: owed, not yet credited
    expect(channel.chunks).toHaveLength(0);
    link.onDht = () => {};
    link.receive(message(10));
    const credits: number[] = [];
    const reader = new RecordReader(() => true, (h, payload) => h.type === RecordType.Credit && credits.push(readCredit(payload)));
    for (const chunk of channel.chunks) reader.push(chunk);
    expect(credits).toEqual([2 * HEADER_SIZE + CREDIT_STEP + 10]);
    expect(recordTypes(channel.chunks)).toEqual([RecordType.Features, RecordType.Credit]);
    link.close();
  });

  it('skips a credit record of the wrong length, and caps credit for bytes never sent', async () => {
    const channel = new RecordingChannel();
    const { logger, entries } = recordingLogger();
    const link = new PeerLink(channel, () => {}, { logger });
    link.onDht = () => {};
    link.receive(features(FEATURE_PARTS | FEATURE_CREDIT));
    link.receive(Buffer.concat([encodeHeader(RecordType.Credit, 0, 8), Buffer.alloc(8, 0xff)]));
    link.receive(credit(0xffff_ffff));
    expect(entries.some((e) => e.msg === 'peer credited more bytes than were sent')).toBe(true);
    link.send(new Uint8Array(2 * MiB)).catch(() => {});
    await new Promise((resolve) => setImmediate(resolve));
    // Features record (7 bytes) already sent before the lie: the window still holds.
    expect(sum(channel.chunks)).toBe(DHT_LINK_WINDOW + HEADER_SIZE + 1);
    link.close();
  });
});

function features(bits: number): Buffer {
  return Buffer.concat([encodeHeader(RecordType.Features, 0, 1), Buffer.of(bits)]);
}

function credit(bytes: number): Buffer {
  return Buffer.concat([encodeHeader(RecordType.Credit, 0, 4), Buffer.from(creditPayload(bytes))]);
}

function sum(chunks: Uint8Array[]): number {
  return chunks.reduce((total, chunk) => total + chunk.length, 0);
}
