/**
 * Messages sent as parts (docs/protocol.md §13.3): the sender's split and send queue, the receiver's
 * reassembly, and properties over random messages, piece sizes, DHT records and channel boundaries.
 */
import { createCipheriv, createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { FLAG_RECEIPT, FLAG_TEXT, HEADER_SIZE, PART_SIZE, RecordReader, RecordType, encodeHeader } from '../src/data/framing.js';
import { PeerLink } from '../src/data/link.js';
import { MessageParts, splitMessage, splitSize } from '../src/data/parts.js';
import { ReceiptStatus } from '../src/data/receipts.js';
import { SendQueue } from '../src/data/sendQueue.js';
import { P2PError } from '../src/errors.js';

const KiB = 1024;
const SEED = Number(process.env.FUZZ_SEED ?? 0x9a27_5eed);
const params = { seed: SEED, numRuns: 60 };

function keystream(seed: number, size: number): Buffer {
  const key = createHash('sha256').update(`parts:${seed}`).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

/** Text of about `size` UTF-8 bytes mixing 1- to 4-byte characters, so pieces end inside characters. */
function text(seed: number, size: number): string {
  const chars = ['a', 'é', '€', '😀'];
  const bytes = keystream(seed, size);
  let out = '';
  for (let used = 0, i = 0; used < size; i++) {
    const char = chars[bytes[i]! % 4]!;
    out += char;
    used += Buffer.byteLength(char);
  }
  return out;
}

function record(type: number, flags: number, payload: Uint8Array): Buffer {
  return Buffer.concat([encodeHeader(type as RecordType, flags, payload.length), payload]);
}

/** Every record of a byte stream, whole. */
function records(stream: Uint8Array): Array<{ type: number; flags: number; payload: Buffer }> {
  const out: Array<{ type: number; flags: number; payload: Buffer }> = [];
  new RecordReader(
    () => true,
    (h, payload) => out.push({ type: h.type, flags: h.flags, payload: Buffer.from(payload) }),
  ).push(stream);
  return out;
}

/** Cuts `stream` into channel messages at sizes drawn from `sizes` (cycled), as the channel may. */
function cut(stream: Uint8Array, sizes: number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0, i = 0; at < stream.length; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push(stream.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

/** A receiving link that runs a DHT, and what it delivered and answered. */
function receiver(maxMessageSize?: number) {
  const sent: Uint8Array[] = [];
  const messages: Array<string | Uint8Array> = [];
  const dht: string[] = [];
  const link = new PeerLink({ send: (chunk) => void sent.push(new Uint8Array(chunk)), bufferedAmount: 0 }, (m) => void messages.push(m), {
    ...(maxMessageSize ? { maxMessageSize } : {}),
  });
  link.onDht = (payload) => dht.push(Buffer.from(payload).toString());
  /** The receipt statuses the link answered, once its end-of-turn flush ran. */
  const receipts = async (): Promise<number[]> => {
    await new Promise((resolve) => setImmediate(resolve));
    return records(Buffer.concat(sent))
      .filter((r) => r.type === RecordType.Receipt)
      .map((r) => r.payload[0]!);
  };
  return { link, messages, dht, receipts };
}

describe('splitMessage', () => {
  it('cuts parts of exactly PART_SIZE as views of the payload, the flags on the final record only', () => {
    const payload = keystream(1, 150 * KiB);
    const pieces = splitMessage(payload, FLAG_TEXT | FLAG_RECEIPT);
    expect(pieces.map((p) => [p.header[0], p.header[1], p.header.readUInt32BE(2), p.payload.length])).toEqual([
      [RecordType.Part, 0, PART_SIZE, PART_SIZE],
      [RecordType.Part, 0, PART_SIZE, PART_SIZE],
      [RecordType.Message, FLAG_TEXT | FLAG_RECEIPT, 22 * KiB, 22 * KiB],
    ]);
    for (const [i, piece] of pieces.entries()) {
      expect(piece.payload.buffer).toBe(payload.buffer);
      expect(piece.payload.byteOffset).toBe(payload.byteOffset + i * PART_SIZE);
    }
  });

  it('leaves a message of at most PART_SIZE whole, and never ends with an empty final record', () => {
    for (const length of [0, 1, PART_SIZE]) expect(splitMessage(new Uint8Array(length), 0).map((p) => p.header[0])).toEqual([RecordType.Message]);
    expect(splitMessage(new Uint8Array(PART_SIZE + 1), 0).map((p) => p.payload.length)).toEqual([PART_SIZE, 1]);
    expect(splitMessage(new Uint8Array(2 * PART_SIZE), 0).map((p) => p.payload.length)).toEqual([PART_SIZE, PART_SIZE]);
  });

  it('takes splitSize bytes on the wire, headers included', () => {
    for (const length of [0, 1, PART_SIZE - 1, PART_SIZE, PART_SIZE + 1, 2 * PART_SIZE, 64 * 1024 * 1024 + 3]) {
      const pieces = splitMessage(new Uint8Array(length), 0);
      expect(splitSize(length)).toBe(pieces.reduce((sum, p) => sum + p.header.length + p.payload.length, 0));
    }
  });
});

describe('MessageParts', () => {
  it('returns a lone final piece as it is, and concatenates parts with it', () => {
    const parts = new MessageParts(100);
    const last = Uint8Array.of(9);
    expect(parts.refusesLast(0, 1)).toBeUndefined();
    expect(parts.complete(last)).toBe(last);
    expect(parts.acceptsPart(0, 2)).toBe(true);
    parts.add(Uint8Array.of(1, 2));
    expect(parts.acceptsPart(0, 0)).toBe(true);
    parts.add(new Uint8Array(0));
    expect(parts.refusesLast(0, 0)).toBeUndefined();
    expect([...parts.complete(new Uint8Array(0))]).toEqual([1, 2]);
    // A fresh start: the next message owes nothing to the last.
    expect([...parts.complete(Uint8Array.of(3))]).toEqual([3]);
  });

  it('drops a message once its pieces pass the limit, skips the rest, and refuses its final record as too large', () => {
    const parts = new MessageParts(100);
    expect(parts.acceptsPart(0, 60)).toBe(true);
    parts.add(new Uint8Array(60));
    expect(parts.acceptsPart(0, 41)).toBe(false);
    expect(parts.acceptsPart(0, 1)).toBe(false); // skipped, though it would fit alone
    expect(parts.refusesLast(0, 0)).toBe(ReceiptStatus.TooLarge);
    // The next message starts afresh, up to the limit exactly.
    expect(parts.acceptsPart(0, 60)).toBe(true);
    parts.add(new Uint8Array(60));
    expect(parts.refusesLast(0, 41)).toBe(ReceiptStatus.TooLarge);
    expect(parts.acceptsPart(0, 60)).toBe(true);
    parts.add(new Uint8Array(60));
    expect(parts.refusesLast(0, 40)).toBeUndefined();
    expect(parts.complete(new Uint8Array(40))).toHaveLength(100);
  });

  it('drops a message whose part carries flags, whatever comes after; the first reason stands', () => {
    const parts = new MessageParts(100);
    expect(parts.acceptsPart(FLAG_TEXT, 1)).toBe(false);
    expect(parts.acceptsPart(0, 1000)).toBe(false);
    expect(parts.refusesLast(FLAG_RECEIPT, 1)).toBe(ReceiptStatus.UnknownFlags);
    expect(parts.refusesLast(0x80, 1)).toBe(ReceiptStatus.UnknownFlags);
    expect(parts.refusesLast(FLAG_TEXT, 1)).toBeUndefined();
  });

  it('forgets a message in progress on reset (the stream ended)', () => {
    const parts = new MessageParts(100);
    parts.acceptsPart(0, 99);
    parts.add(new Uint8Array(99));
    parts.reset();
    expect(parts.refusesLast(0, 100)).toBeUndefined();
    expect(parts.complete(new Uint8Array(100))).toHaveLength(100);
  });
});

describe('SendQueue', () => {
  /** Drains `queue` in chunks of `size`, calling `between` after each, and returns the stream. */
  function drain(queue: SendQueue, size: number, between: (sentSoFar: number) => void = () => {}): Buffer {
    const out: Buffer[] = [];
    let total = 0;
    while (queue.bytes > 0) {
      const chunk = Buffer.alloc(Math.min(size, queue.bytes));
      const { completed } = queue.fill(chunk);
      queue.sent(chunk.length, completed);
      out.push(chunk);
      total += chunk.length;
      between(total);
    }
    return Buffer.concat(out);
  }

  it('counts every header of a split message, and settles it with its final record only', () => {
    const queue = new SendQueue();
    const payload = keystream(2, 3 * PART_SIZE + 5);
    const resolve = vi.fn();
    const reject = vi.fn();
    queue.pushMessage(payload, FLAG_RECEIPT, true, resolve, reject);
    expect(queue.bytes).toBe(payload.length + 4 * HEADER_SIZE);
    // A budget that holds all but the last byte accepts the parts (no-ops), not the message.
    queue.accept(0, queue.bytes - 1);
    expect(resolve).not.toHaveBeenCalled();
    queue.accept(1, queue.bytes + 1);
    expect(resolve).toHaveBeenCalledTimes(1);
    const stream = drain(queue, 10_000);
    expect(reject).not.toHaveBeenCalled();
    expect(stream.equals(Buffer.concat(splitMessage(payload, FLAG_RECEIPT).flatMap((p) => [p.header, p.payload])))).toBe(true);
    expect(queue.bytes).toBe(0);
    expect(queue.empty).toBe(true);
  });

  it('rejects a split message once when cleared in the middle, and nothing else it queued', () => {
    const queue = new SendQueue();
    const reject = vi.fn();
    queue.pushMessage(new Uint8Array(5 * PART_SIZE), 0, true, () => {}, reject);
    const { completed } = queue.fill(Buffer.alloc(PART_SIZE + 100));
    queue.sent(PART_SIZE + 100, completed);
    queue.clear(new P2PError('ERR_PEER_CLOSED', 'closed'));
    expect(reject).toHaveBeenCalledTimes(1);
    expect(reject.mock.calls[0]![0]).toMatchObject({ code: 'ERR_PEER_CLOSED' });
    expect(queue.bytes).toBe(0);
  });

  it('puts a record queued ahead behind the part being sent, and ahead records in their order', () => {
    const queue = new SendQueue();
    queue.pushMessage(keystream(3, 4 * PART_SIZE), 0, true, () => {}, () => {});
    queue.pushMessage(Buffer.from('next'), 0, false, () => {}, () => {});
    let queued = false;
    const stream = drain(queue, 1000, (sent) => {
      if (sent < PART_SIZE + 5000 || queued) return;
      queued = true;
      queue.pushAhead(RecordType.Dht, Buffer.from('one'));
      queue.pushAhead(RecordType.Dht, Buffer.from('two'));
    });
    expect(records(stream).map((r) => (r.type === RecordType.Dht ? r.payload.toString() : r.type))).toEqual([
      RecordType.Part,
      RecordType.Part,
      'one',
      'two',
      RecordType.Part,
      RecordType.Message,
      RecordType.Message,
    ]);
    expect(stream.length).toBe(splitSize(4 * PART_SIZE) + 3 * HEADER_SIZE + 10);
  });

  it('counts a record queued ahead of accepted ones as accepted: it does not hold back the budget', () => {
    const queue = new SendQueue();
    const first = vi.fn();
    const second = vi.fn();
    queue.pushMessage(new Uint8Array(100), 0, false, first, () => {});
    queue.pushMessage(new Uint8Array(100), 0, false, second, () => {});
    queue.accept(0, 106);
    expect(first).toHaveBeenCalled();
    queue.pushAhead(RecordType.Dht, new Uint8Array(50)); // ahead of both: within what is accepted
    queue.accept(0, 2 * 106 + 56);
    expect(second).toHaveBeenCalled();
  });
});

/** One message as the generator describes it, with its bytes. */
const messageArb = fc.record({
  kind: fc.constantFrom('bytes', 'text'),
  size: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 3 * PART_SIZE + 7 })),
  seed: fc.nat(),
  receipt: fc.boolean(),
});
type MessageSpec = { kind: string; size: number; seed: number; receipt: boolean };

function materialize(spec: MessageSpec): { data: string | Buffer; payload: Buffer; flags: number } {
  const data = spec.kind === 'text' ? text(spec.seed, spec.size) : keystream(spec.seed, spec.size);
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  const flags = (typeof data === 'string' ? FLAG_TEXT : 0) | (spec.receipt ? FLAG_RECEIPT : 0);
  return { data, payload, flags };
}

describe('message parts under random input', () => {
  it('a receiver delivers messages in pieces of any sizes intact, with DHT records between, over any channel boundaries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            message: messageArb,
            cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }),
            dht: fc.array(fc.boolean(), { maxLength: 6 }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 8 }),
        async (specs, chunkSizes) => {
          const stream: Buffer[] = [];
          const expectedDht: string[] = [];
          const expected: Array<string | Buffer> = [];
          for (const [m, { message, cuts, dht }] of specs.entries()) {
            const { data, payload, flags } = materialize(message);
            expected.push(data);
            // Parts at random cut points (empty parts and an empty final record included).
            const points = [...cuts.map((c) => Math.floor(c * payload.length)).sort((x, y) => x - y), payload.length];
            let from = 0;
            for (const [i, to] of points.entries()) {
              const last = i === points.length - 1;
              stream.push(record(last ? RecordType.Message : RecordType.Part, last ? flags : 0, payload.subarray(from, to)));
              from = to;
              if (!last && dht[i]) {
                expectedDht.push(`dht ${m}.${i}`);
                stream.push(record(RecordType.Dht, 0, Buffer.from(`dht ${m}.${i}`)));
              }
            }
          }
          const { link, messages, dht, receipts } = receiver();
          for (const chunk of cut(Buffer.concat(stream), chunkSizes)) link.receive(chunk);
          expect(messages.map((m) => (typeof m === 'string' ? m : Buffer.from(m).toString('hex')))).toEqual(
            expected.map((m) => (typeof m === 'string' ? m : m.toString('hex'))),
          );
          expect(dht).toEqual(expectedDht);
          expect(await receipts()).toEqual(specs.filter((s) => s.message.receipt).map(() => ReceiptStatus.Delivered));
          link.close();
        },
      ),
      params,
    );
  });

  it('a sender’s queue, drained at random chunk sizes with DHT records queued at random times, reads back intact', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(messageArb, { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 256 * KiB }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }),
        async (specs, chunkSizes, dhtAfter) => {
          const queue = new SendQueue();
          const materialized = specs.map(materialize);
          for (const { payload, flags } of materialized) queue.pushMessage(payload, flags, payload.length > PART_SIZE, () => {}, () => {});
          const expectedBytes = materialized.reduce((sum, { payload }) => sum + splitSize(payload.length), 0);
          expect(queue.bytes).toBe(expectedBytes);
          const chunks: Buffer[] = [];
          const dhtSent: string[] = [];
          for (let i = 0; queue.bytes > 0; i++) {
            if (dhtAfter[i % dhtAfter.length]) {
              dhtSent.push(`dht ${i}`);
              queue.pushAhead(RecordType.Dht, Buffer.from(`dht ${i}`));
            }
            const chunk = Buffer.alloc(Math.min(chunkSizes[i % chunkSizes.length]!, queue.bytes));
            const { completed } = queue.fill(chunk);
            queue.sent(chunk.length, completed);
            chunks.push(chunk);
          }
          const stream = Buffer.concat(chunks);
          expect(stream.length).toBe(expectedBytes + dhtSent.reduce((sum, d) => sum + HEADER_SIZE + d.length, 0));
          const { link, messages, dht } = receiver();
          for (const chunk of cut(stream, chunkSizes)) link.receive(chunk);
          // Text arrives as text: compared as its UTF-8 bytes, like the bytes that went out.
          expect(messages.map((m) => typeof m)).toEqual(materialized.map(({ data }) => typeof data));
          expect(messages.map((m) => Buffer.from(m).toString('hex'))).toEqual(materialized.map(({ payload }) => payload.toString('hex')));
          expect(dht).toEqual(dhtSent);
          link.close();
        },
      ),
      { ...params, numRuns: 40 },
    );
  });
});

describe('PeerLink receiving parts: edge cases', () => {
  it('delivers parts and an empty final record, as bytes and as text', () => {
    const { link, messages } = receiver();
    link.receive(Buffer.concat([record(RecordType.Part, 0, Buffer.of(1, 2)), record(RecordType.Message, 0, new Uint8Array(0))]));
    const euro = Buffer.from('€');
    link.receive(record(RecordType.Part, 0, euro.subarray(0, 1)));
    link.receive(record(RecordType.Part, 0, euro.subarray(1)));
    link.receive(record(RecordType.Message, FLAG_TEXT, new Uint8Array(0)));
    expect(messages.map((m) => (typeof m === 'string' ? m : [...m]))).toEqual([[1, 2], '€']);
  });

  it('answers each refused message once, per the receipt rules, and delivers what follows', async () => {
    const { link, messages, receipts } = receiver(100);
    const stream = [
      // a part with flags: the message is dropped, its final record answered "unknown flags"
      record(RecordType.Part, FLAG_TEXT, Buffer.of(1)),
      record(RecordType.Part, 0, Buffer.of(2)),
      record(RecordType.Message, FLAG_RECEIPT, Buffer.of(3)),
      // pieces past the limit: "too large", the rest skipped; a DHT record between them still arrives
      record(RecordType.Part, 0, new Uint8Array(80)),
      record(RecordType.Dht, 0, Buffer.from('between')),
      record(RecordType.Part, 0, new Uint8Array(80)),
      record(RecordType.Message, FLAG_RECEIPT, new Uint8Array(0)),
      // text whose pieces are not UTF-8 together
      record(RecordType.Part, 0, Buffer.of(0xc3)),
      record(RecordType.Message, FLAG_TEXT | FLAG_RECEIPT, Buffer.of(0x28)),
      // and a good one
      record(RecordType.Part, 0, Buffer.from('o')),
      record(RecordType.Message, FLAG_TEXT | FLAG_RECEIPT, Buffer.from('k')),
    ];
    link.receive(Buffer.concat(stream));
    expect(messages).toEqual(['ok']);
    expect(await receipts()).toEqual([ReceiptStatus.UnknownFlags, ReceiptStatus.TooLarge, ReceiptStatus.NotUtf8, ReceiptStatus.Delivered]);
  });

  it('drops a message whose final record never comes: the stream ends, or the link closes', async () => {
    const { link, messages } = receiver();
    link.receive(Buffer.concat([record(RecordType.Part, 0, Buffer.of(1)), encodeHeader(RecordType.End, 0, 0)]));
    // After an End the peer sends no message; a stray final record is a message of its own.
    link.receive(record(RecordType.Message, 0, Buffer.of(2)));
    expect(messages.map((m) => [...(m as Uint8Array)])).toEqual([[2]]);
    const other = receiver();
    other.link.receive(record(RecordType.Part, 0, Buffer.of(1)));
    other.link.close();
    expect(() => other.link.receive(record(RecordType.Message, 0, Buffer.of(2)))).not.toThrow();
    expect(other.messages).toEqual([]);
  });
});
