import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { AckWindow } from '../src/services/ackWindow.js';
import { Pacer } from '../src/services/pacer.js';
import { socketIoSession, type CarrierCommand, type SocketEvent } from '../src/services/socketClient.js';
import { Envelopes, newSessionId } from '../src/wire/envelope.js';
import { generateIdentity } from '../src/wire/identity.js';
import { eventually } from './helpers.js';

describe('AckWindow', () => {
  it('asks on the first signal, then on every `every`-th, or once the last ask is `intervalMs` old', () => {
    const window = new AckWindow(3, 1000);
    const asks = [0, 1, 2, 3, 4, 5, 6].map((i) => window.add(() => {}, i) !== undefined);
    expect(asks).toEqual([true, false, false, true, false, false, true]);
    expect(window.add(() => {}, 7) === undefined).toBe(true);
    expect(window.add(() => {}, 1007) !== undefined).toBe(true); // a quiet spell: the next one asks
  });

  it('asks when told to (a hello), settling the signals before it and starting the count again', () => {
    const window = new AckWindow(3, 1000);
    const done: number[] = [];
    const settles = [0, 1, 2].map((i) => window.add(() => done.push(i), 0, i === 1));
    expect(settles.map((s) => s !== undefined)).toEqual([true, true, false]);
    settles[1]!();
    expect(done).toEqual([0, 1]);
    expect([3, 4].map((i) => window.add(() => done.push(i), 0) !== undefined)).toEqual([false, true]);
  });

  it('settles every signal sent up to an answered one, whatever order the answers come in', () => {
    const window = new AckWindow(2, 1000);
    const done: number[] = [];
    const settles = [0, 1, 2, 3, 4].map((i) => window.add(() => done.push(i), 0));
    expect(settles.map((s) => s !== undefined)).toEqual([true, false, true, false, true]);
    settles[2]!(); // a later answer first (a cluster answers a signal to another server later)
    expect(done).toEqual([0, 1, 2]);
    settles[0]!();
    expect(done).toEqual([0, 1, 2]);
    expect(window.unsettled).toBe(2);
    settles[4]!();
    expect(done).toEqual([0, 1, 2, 3, 4]);
  });

  it('never leaves a pacer waiting on signals no answer will settle, however answers are delayed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 40 }), fc.array(fc.nat(5), { minLength: 1, maxLength: 300 }), (maxInFlight, delays) => {
        const pacer = new Pacer({ perSecond: 1e9, burst: 1e9, maxInFlight });
        const window = new AckWindow(maxInFlight / 2, Number.POSITIVE_INFINITY);
        const waiting: { at: number; settle: () => void }[] = [];
        let sent = 0;
        let tick = 0;
        for (const _ of delays) pacer.run((done) => {
          sent++;
          const settle = window.add(done, 0);
          if (settle) waiting.push({ at: tick + delays[sent % delays.length]!, settle });
        });
        // Answers arrive as time passes; the run stalls only if nothing asked is still unanswered.
        while (sent < delays.length) {
          expect(waiting.length).toBeGreaterThan(0);
          tick++;
          for (const w of waiting.filter((w) => w.at <= tick)) {
            waiting.splice(waiting.indexOf(w), 1);
            w.settle();
          }
        }
        pacer.close();
      }),
    );
  });
});

describe('the client towards servers of either revision', () => {
  const closers: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  /** A server that challenges with `revision` (none: a revision-1 server), registers anyone, and records each signal and whether it asked for an ack. */
  async function fakeServer(revision: number | undefined): Promise<{ url: string; signals: boolean[] }> {
    const http = createServer();
    const io = new Server(http, { transports: ['websocket'] });
    const signals: boolean[] = [];
    io.on('connection', (socket: ServerSocket) => {
      socket.emit('challenge', { v: 1, nonce: 'A'.repeat(43), rateLimit: { perSecond: 1000, burst: 200 }, ...(revision ? { revision } : {}) });
      socket.on('register', (request: { publicKey: string }, ack: (reply: unknown) => void) => ack({ ok: true, nodeId: generateIdentityFor(request.publicKey) }));
      socket.on('signal', (...args: unknown[]) => {
        const ack = args.find((a) => typeof a === 'function') as ((reply: unknown) => void) | undefined;
        signals.push(ack !== undefined);
        ack?.({ ok: true });
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => void io.close(() => resolve())));
    return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, signals };
  }

  const identity = generateIdentity();
  const generateIdentityFor = (publicKey: string): string => (publicKey === identity.publicKey ? identity.nodeId : 'unknown');

  /** Runs the client session against `url` and sends `count` signals once registered. */
  async function sendSignals(url: string, count: number): Promise<SocketEvent[]> {
    const events: SocketEvent[] = [];
    let listener: ((command: CarrierCommand) => void) | undefined;
    const stop = socketIoSession({
      input: { url, identity, envelopes: new Envelopes(identity, { e2e: false }), logger: silentLogger },
      sendBack: (event: SocketEvent) => events.push(event),
      receive: (l: (command: CarrierCommand) => void) => (listener = l),
    } as unknown as Parameters<typeof socketIoSession>[0]);
    closers.push(() => void (stop as () => void)());
    await eventually(() => expect(events.map((e) => e.type)).toContain('SOCKET.REGISTERED'));
    const to = generateIdentity().nodeId;
    for (let i = 0; i < count; i++) listener!({ type: 'SEND', to, session: newSessionId(), data: { type: 'candidate', candidate: { candidate: `candidate:${i}`, sdpMid: '0', sdpMLineIndex: 0 } } });
    return events;
  }

  it('asks a revision-1 server for an ack on every signal, as it acknowledges only those', async () => {
    const server = await fakeServer(undefined);
    await sendSignals(server.url, 100);
    await eventually(() => expect(server.signals).toHaveLength(100));
    expect(server.signals.every(Boolean)).toBe(true);
  });

  it('asks a revision-2 server for an ack on the first signal and then every maxInFlight / 2', async () => {
    const server = await fakeServer(2);
    await sendSignals(server.url, 100);
    await eventually(() => expect(server.signals).toHaveLength(100));
    // burst 200: 80 in flight at most (40 %), so every 40th asks.
    expect(server.signals.flatMap((asked, i) => (asked ? [i] : []))).toEqual([0, 40, 80]);
  });
});
