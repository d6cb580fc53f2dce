/**
 * The part every bench peer process shares: a JSON-lines control channel with the parent (commands
 * on stdin, events on stdout — nothing else may be written to stdout), deterministic test data, and
 * the transfer / ping loops. A contender only has to connect and provide `send` (one whole message,
 * chunked and paced however that contender does it) and call `deliver` with each whole message.
 *
 * Test data: every child builds the same 16 MiB pool from a seeded xorshift32; message `i` of size
 * `s` is the pool slice at {@link offsetOf}(i, s). The receiver compares every message byte for byte
 * with the slice it expects, so a dropped, reordered, truncated or corrupted message is detected.
 */
import { createInterface } from 'node:readline';

const KiB = 1024;
const MiB = 1024 * KiB;
export const POOL_SIZE = 16 * MiB;

export type Role = 'sender' | 'receiver';

/** Commands from the parent. Contender-specific ones ('signal', 'connect', 'peer') go to the contender. */
export type Command =
  | { cmd: 'expect'; size: number; count: number }
  | { cmd: 'send'; size: number; count: number }
  | { cmd: 'echo' }
  | { cmd: 'ping'; size: number; count: number }
  | { cmd: 'close' }
  | { cmd: string; [key: string]: unknown };

export interface Contender {
  /** Hands one whole message to the channel (chunking and backpressure are the contender's); void when done synchronously. */
  send(message: Uint8Array): void | Promise<void>;
  /** Closes the connection (from a timer, never from inside a wrtc callback). */
  close(): Promise<void> | void;
}

export interface PeerContext {
  role: Role;
  /** Contender-specific configuration from the command line (JSON). */
  config: Record<string, unknown>;
  emit(event: Record<string, unknown>): void;
  /** Contender-specific commands (signals, connect requests). */
  onCommand(handler: (command: Command) => void): void;
  /** Size of the messages currently expected (lets bare contenders reassemble chunks without a header). */
  readonly expectedSize: number;
  /** Call with every whole application message received. */
  deliver(message: Uint8Array): void;
}

/** Deterministic 16 MiB of pseudo-random bytes (xorshift32, fixed seed), identical in every process. */
export function makePool(seed = 0x9e3779b9): Buffer {
  const words = new Uint32Array(POOL_SIZE / 4);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return Buffer.from(words.buffer);
}

/** Where message `index` of `size` bytes starts in the pool. */
export function offsetOf(index: number, size: number): number {
  const span = POOL_SIZE - size + 1;
  return ((index * 8191 * 8) % span + span) % span;
}

/** Sends `message` as chunks of at most `chunkSize`, never letting `bufferedAmount` exceed `highWaterMark`. */
export function pacedSender(
  raw: (chunk: Uint8Array) => void,
  buffered: () => number,
  { chunkSize = 256 * KiB, highWaterMark = 4 * MiB, wait = waitTimeout }: { chunkSize?: number; highWaterMark?: number; wait?: () => Promise<void> } = {},
): (message: Uint8Array) => void | Promise<void> {
  const slow = async (message: Uint8Array): Promise<void> => {
    for (let offset = 0; offset < message.length; offset += chunkSize) {
      const chunk = message.subarray(offset, Math.min(message.length, offset + chunkSize));
      while (buffered() + chunk.length > highWaterMark) await wait();
      raw(chunk);
    }
  };
  return (message) => {
    if (message.length <= chunkSize && buffered() + message.length <= highWaterMark) {
      raw(message);
      return;
    }
    return slow(message);
  };
}

export const waitTimeout = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
export const waitImmediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Reassembles chunks into messages of `size()` bytes (the bench knows the size; a real protocol would need a header). */
export function reassembler(size: () => number, deliver: (message: Uint8Array) => void): (chunk: Uint8Array) => void {
  let partial: Buffer | undefined;
  let filled = 0;
  return (chunk) => {
    const total = size();
    if (!partial && chunk.length >= total) return deliver(chunk);
    partial ??= Buffer.allocUnsafeSlow(total);
    partial.set(chunk, filled);
    filled += chunk.length;
    if (filled >= total) {
      const done = partial;
      partial = undefined;
      filled = 0;
      deliver(done);
    }
  };
}

const now = (): number => performance.now();

/** Runs one bench peer: parses argv (`<role> [json config]`), connects through `setup`, then obeys the parent. */
export async function runPeer(setup: (ctx: PeerContext) => Promise<Contender>): Promise<void> {
  const role = process.argv[2] as Role;
  if (role !== 'sender' && role !== 'receiver') throw new Error(`usage: <sender|receiver> [config json], got ${role}`);
  const config = JSON.parse(process.argv[3] ?? '{}') as Record<string, unknown>;
  const pool = makePool();
  const emit = (event: Record<string, unknown>): void => {
    process.stdout.write(`${JSON.stringify(event)}\n`);
  };
  process.on('uncaughtException', (err) => {
    emit({ ev: 'error', message: String(err?.stack ?? err) });
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    emit({ ev: 'error', message: String((err as Error)?.stack ?? err) });
    process.exit(1);
  });

  let contenderHandler: ((command: Command) => void) | undefined;
  const early: Command[] = [];

  // Receiver state.
  let mode: 'idle' | 'expect' | 'echo' = 'idle';
  let expectedSize = 64;
  let expectedCount = 0;
  let received = 0;
  let firstAt = 0;
  let failed = false;
  // Sender state (pings).
  let pongWaiter: ((message: Uint8Array) => void) | undefined;

  let contender: Contender | undefined;
  const deliver = (message: Uint8Array): void => {
    if (role === 'sender') {
      const waiter = pongWaiter;
      pongWaiter = undefined;
      waiter?.(message);
      return;
    }
    if (mode === 'echo') {
      void contender!.send(message);
      return;
    }
    if (mode !== 'expect' || failed) return;
    if (received === 0) firstAt = now();
    const offset = offsetOf(received, expectedSize);
    const view = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    if (message.byteLength !== expectedSize || view.compare(pool, offset, offset + expectedSize) !== 0) {
      failed = true;
      emit({ ev: 'done', ok: false, received, message: `message ${received} (${message.byteLength} B) does not match` });
      return;
    }
    received++;
    if (received === expectedCount) {
      mode = 'idle';
      emit({ ev: 'done', ok: true, received, bytes: received * expectedSize, receiveMs: now() - firstAt });
    }
  };

  const ctx: PeerContext = {
    role,
    config,
    emit,
    onCommand(handler) {
      contenderHandler = handler;
      for (const command of early.splice(0)) handler(command);
    },
    get expectedSize() {
      return expectedSize;
    },
    deliver,
  };

  const onCommand = async (command: Command): Promise<void> => {
    switch (command.cmd) {
      case 'expect': {
        const { size, count } = command as { size: number; count: number };
        mode = 'expect';
        expectedSize = size;
        expectedCount = count;
        received = 0;
        failed = false;
        emit({ ev: 'ready' });
        return;
      }
      case 'echo':
        mode = 'echo';
        expectedSize = 64;
        emit({ ev: 'ready' });
        return;
      case 'send': {
        const { size, count } = command as { size: number; count: number };
        expectedSize = size;
        const started = now();
        for (let i = 0; i < count; i++) {
          const offset = offsetOf(i, size);
          const pending = contender!.send(pool.subarray(offset, offset + size));
          if (pending) await pending;
        }
        emit({ ev: 'sent', sendMs: now() - started });
        return;
      }
      case 'ping': {
        const { size, count } = command as { size: number; count: number };
        expectedSize = size;
        const samples = new Float64Array(count);
        let bad = 0;
        for (let i = 0; i < count; i++) {
          const offset = offsetOf(i, size);
          const ping = pool.subarray(offset, offset + size);
          const pong = new Promise<Uint8Array>((resolve) => (pongWaiter = resolve));
          const started = now();
          const pending = contender!.send(ping);
          if (pending) await pending;
          const answer = await pong;
          samples[i] = now() - started;
          if (Buffer.compare(Buffer.from(answer.buffer, answer.byteOffset, answer.byteLength), ping) !== 0) bad++;
        }
        emit({ ev: 'pings', samples: Array.from(samples, (x) => Math.round(x * 1000) / 1000), bad });
        return;
      }
      case 'close':
        // Never from inside a wrtc callback: close from a timer, then leave without waiting for natural exit.
        setTimeout(() => {
          void (async () => {
            try {
              await contender?.close();
            } finally {
              setTimeout(() => process.exit(0), 50);
            }
          })();
        }, 10);
        return;
      default:
        if (contenderHandler) contenderHandler(command);
        else early.push(command);
    }
  };

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    void onCommand(JSON.parse(line) as Command);
  });
  lines.on('close', () => process.exit(0));

  // Contender commands (signals) that arrive before its handler registers are queued for it.
  contender = await setup(ctx);
  emit({ ev: 'open' });
}
