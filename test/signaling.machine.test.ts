import { describe, expect, it } from 'vitest';
import { backoffDelay, generateIdentity, signalingMachine, type SignalingInput } from '../src/index.js';
import { silentLogger } from '../src/log.js';
import { Envelopes } from '../src/wire/envelope.js';
import { fakeSocket, offer, signal, underParent } from './support/fakes.js';

const TIMEOUTS = { connect: 1000, register: 500 };
const BACKOFF = { initialMs: 100, maxMs: 1000, jitter: 0 };
const PEER = 'a'.repeat(64);

function signaling(overrides: Partial<SignalingInput> = {}) {
  const socket = fakeSocket();
  const identity = generateIdentity();
  const input: SignalingInput = {
    urls: ['http://127.0.0.1:1'],
    identity,
    envelopes: new Envelopes(identity),
    logger: silentLogger,
    timeouts: TIMEOUTS,
    backoff: BACKOFF,
    initialAttempts: 3,
    queueLimit: 3,
    ...overrides,
  };
  const run = underParent(signalingMachine.provide({ actors: { socket: socket.logic } }), input);
  const notices = (type: string) => run.received.filter((e) => e.type === type);
  const register = () => {
    socket.last().emit({ type: 'SOCKET.CONNECTED' });
    socket.last().emit({ type: 'SOCKET.REGISTERED', nodeId: identity.nodeId });
  };
  return { ...run, socket, identity, notices, register };
}

const send = (n: number) => ({ type: 'SEND' as const, to: PEER, session: 'session-0001', data: offer(`offer ${n}`) });

describe('signaling machine', () => {
  it('waits for CONNECT, then connects, registers and tells its parent', () => {
    const s = signaling();
    expect(s.state()).toBe('disconnected');
    expect(s.socket.instances).toHaveLength(0);
    s.send({ type: 'CONNECT' });
    expect(s.state()).toEqual({ online: 'connecting' });
    expect(s.socket.last().input.url).toBe('http://127.0.0.1:1');
    s.socket.last().emit({ type: 'SOCKET.CONNECTED' });
    expect(s.state()).toEqual({ online: 'registering' });
    s.socket.last().emit({ type: 'SOCKET.REGISTERED', nodeId: s.identity.nodeId });
    expect(s.state()).toEqual({ online: 'registered' });
    expect(s.notices('SIGNALING.REGISTERED')).toEqual([{ type: 'SIGNALING.REGISTERED', nodeId: s.identity.nodeId }]);
  });

  it('queues signals until registered, keeps the newest up to the limit, and flushes them in order', () => {
    const s = signaling();
    s.send({ type: 'CONNECT' });
    for (let i = 1; i <= 5; i++) s.send(send(i));
    expect(s.socket.last().commands).toEqual([]);
    s.register();
    expect(s.socket.last().commands).toEqual([send(3), send(4), send(5)]);
    s.send(send(6));
    expect(s.socket.last().commands.at(-1)).toEqual(send(6));
  });

  it('keeps exactly queueLimit signals, also when the limit is 1', () => {
    for (const queueLimit of [1, 2]) {
      const s = signaling({ queueLimit });
      s.send({ type: 'CONNECT' });
      for (let i = 1; i <= 4; i++) s.send(send(i));
      s.register();
      expect(s.socket.last().commands).toEqual([send(3), send(4)].slice(-queueLimit));
    }
  });

  it('forwards verified signals and delivery failures to its parent', () => {
    const s = signaling();
    s.send({ type: 'CONNECT' });
    s.register();
    const incoming = signal(PEER, 'session-0001', offer());
    s.socket.last().emit({ type: 'SOCKET.SIGNAL', signal: incoming });
    s.socket.last().emit({ type: 'SOCKET.SIGNAL_FAILED', to: PEER, session: 's', error: { code: 'ERR_UNKNOWN_PEER', message: 'x' } });
    expect(s.notices('SIGNAL.IN')).toEqual([{ type: 'SIGNAL.IN', signal: incoming }]);
    expect(s.notices('SIGNAL.FAILED')).toHaveLength(1);
  });

  it('reconnects with exponential backoff after a loss and registers again', () => {
    const s = signaling();
    s.send({ type: 'CONNECT' });
    s.register();
    s.socket.last().emit({ type: 'SOCKET.DISCONNECTED', reason: 'transport close' });
    expect(s.state()).toBe('reconnecting');
    expect(s.notices('SIGNALING.LOST')).toEqual([{ type: 'SIGNALING.LOST', reason: 'transport close' }]);
    expect(s.socket.instances[0]!.stopped).toBe(true);

    // After a success, failures never exhaust the attempts: the delays double up to maxMs.
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      let waited = 0;
      while (s.state() === 'reconnecting' && waited < 5000) {
        s.clock.increment(10);
        waited += 10;
      }
      delays.push(waited);
      s.socket.last().emit({ type: 'SOCKET.DISCONNECTED', reason: 'refused' });
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    s.clock.increment(1000);
    s.register();
    expect(s.state()).toEqual({ online: 'registered' });
    expect(s.notices('SIGNALING.REGISTERED')).toHaveLength(2);
  });

  it('gives up on a server it never reached after initialAttempts, with a typed error', () => {
    const s = signaling();
    s.send({ type: 'CONNECT' });
    s.clock.increment(TIMEOUTS.connect); // attempt 1 times out
    s.clock.increment(100);
    s.socket.last().emit({ type: 'SOCKET.DISCONNECTED', reason: 'ECONNREFUSED' }); // attempt 2
    s.clock.increment(200);
    expect(s.state()).toEqual({ online: 'connecting' });
    s.socket.last().emit({ type: 'SOCKET.DISCONNECTED', reason: 'ECONNREFUSED' }); // attempt 3
    expect(s.output()).toMatchObject({ error: { code: 'ERR_SIGNALING_UNREACHABLE' } });
    expect(s.socket.instances).toHaveLength(3);
  });

  it('moves to the next listed server after each failure, and tries every one before giving up', () => {
    const urls = ['http://a.test', 'http://b.test', 'http://c.test', 'http://d.test'];
    const s = signaling({ urls, initialAttempts: 2 });
    s.send({ type: 'CONNECT' });
    s.register();
    s.socket.last().emit({ type: 'SOCKET.DISCONNECTED', reason: 'transport close' }); // a was lost
    s.clock.increment(100);
    s.register(); // registered on b
    s.socket.last().emit({ type: 'SOCKET.DISCONNECTED', reason: 'transport close' });
    s.clock.increment(100);
    expect(s.socket.instances.map((i) => i.input.url)).toEqual(['http://a.test', 'http://b.test', 'http://c.test']);

    // Never registered: 4 servers outweigh initialAttempts 2, so each gets its attempt, wrapping around.
    const t = signaling({ urls, initialAttempts: 2 });
    t.send({ type: 'CONNECT' });
    for (let i = 0; i < 3; i++) {
      t.socket.last().emit({ type: 'SOCKET.DISCONNECTED', reason: 'ECONNREFUSED' });
      t.clock.increment(BACKOFF.maxMs);
    }
    t.socket.last().emit({ type: 'SOCKET.DISCONNECTED', reason: 'ECONNREFUSED' });
    expect(t.socket.instances.map((i) => i.input.url)).toEqual(urls);
    expect(t.output()).toMatchObject({ error: { code: 'ERR_SIGNALING_UNREACHABLE', message: expect.stringContaining(urls.join(', ')) } });
  });

  it('retries when registration does not complete in time', () => {
    const s = signaling();
    s.send({ type: 'CONNECT' });
    s.socket.last().emit({ type: 'SOCKET.CONNECTED' });
    s.clock.increment(TIMEOUTS.register);
    expect(s.state()).toBe('reconnecting');
  });

  it('stops for good when the server rejects the registration', () => {
    const s = signaling();
    s.send({ type: 'CONNECT' });
    s.socket.last().emit({ type: 'SOCKET.CONNECTED' });
    s.socket.last().emit({ type: 'SOCKET.REJECTED', error: { code: 'ERR_AUTH', message: 'bad signature' } });
    expect(s.output()).toEqual({ error: { code: 'ERR_AUTH', message: 'bad signature' } });
  });
});

describe('backoffDelay', () => {
  it('doubles from initialMs, caps at maxMs and spreads by jitter', () => {
    const opts = { initialMs: 250, maxMs: 30_000, jitter: 0.3 };
    expect(backoffDelay(1, opts, () => 1)).toBe(250);
    expect(backoffDelay(3, opts, () => 1)).toBe(1000);
    expect(backoffDelay(20, opts, () => 1)).toBe(30_000);
    expect(backoffDelay(3, opts, () => 0)).toBe(700);
  });
});
