import { createHash, createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import { Envelopes, newSessionId, type SignalData } from '../src/services/envelope.js';
import { generateIdentity, type Identity } from '../src/services/identity.js';
import type { Logger } from '../src/log.js';
import {
  isChallenge,
  isIceServerGrants,
  registerMessage,
  type Ack,
  type ChallengeMessage,
  type RegisterReply,
  type SignalDelivery,
} from '../src/services/protocol.js';
import { TokenBucket } from '../src/services/rateLimit.js';
import {
  createSignalingServer,
  type SignalingServer,
  type SignalingServerOptions,
} from '../src/services/signalingServer.js';

/** Upper bound for any single wait, so a broken server fails a test instead of hanging it. */
const WAIT_MS = 3000;

const servers: SignalingServer[] = [];
const clients: ClientSocket[] = [];

afterEach(async () => {
  for (const socket of clients.splice(0)) socket.disconnect();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function startServer(options: SignalingServerOptions = {}): Promise<SignalingServer> {
  const server = await createSignalingServer({ port: 0, host: '127.0.0.1', ...options });
  servers.push(server);
  return server;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the next `event` (its first argument), rejects after `ms`. */
function nextEvent<T = unknown>(socket: ClientSocket, event: string, ms = WAIT_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    const onEvent = (value: T): void => {
      clearTimeout(timer);
      resolve(value);
    };
    const timer = setTimeout(() => {
      socket.off(event, onEvent);
      reject(new Error(`timed out after ${ms} ms waiting for "${event}"`));
    }, ms);
    socket.once(event, onEvent);
  });
}

/** Resolves after `ms` if `event` did not happen meanwhile, rejects as soon as it does. */
function noEvent(socket: ClientSocket, event: string, ms = 200): Promise<void> {
  return new Promise((resolve, reject) => {
    const onEvent = (): void => {
      clearTimeout(timer);
      reject(new Error(`unexpected "${event}"`));
    };
    const timer = setTimeout(() => {
      socket.off(event, onEvent);
      resolve();
    }, ms);
    socket.once(event, onEvent);
  });
}

/** Retries `check` until it passes or the time runs out (then rethrows its last failure). */
async function eventually(check: () => Promise<void>, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(25);
    }
  }
}

/** Connects a fresh client and waits for its challenge. */
async function connect(server: SignalingServer): Promise<{ socket: ClientSocket; nonce: string; challenge: unknown }> {
  const socket = io(server.url, { transports: ['websocket'], reconnection: false, forceNew: true });
  clients.push(socket);
  const challenge = await nextEvent<ChallengeMessage>(socket, 'challenge');
  return { socket, nonce: challenge.nonce, challenge };
}

function request<T extends object = object>(socket: ClientSocket, event: string, ...args: unknown[]): Promise<Ack<T>> {
  return socket.timeout(WAIT_MS).emitWithAck(event, ...args) as Promise<Ack<T>>;
}

function registration(identity: Identity, nonce: string): { publicKey: string; signature: string } {
  return {
    publicKey: identity.publicKey,
    signature: Buffer.from(identity.sign(registerMessage(nonce))).toString('base64url'),
  };
}

interface Node {
  socket: ClientSocket;
  identity: Identity;
  envelopes: Envelopes;
}

async function registeredNode(server: SignalingServer, identity = generateIdentity()): Promise<Node> {
  const { socket, nonce } = await connect(server);
  expect(await request(socket, 'register', registration(identity, nonce))).toEqual({ ok: true, nodeId: identity.nodeId });
  return { socket, identity, envelopes: new Envelopes(identity) };
}

function errorCode(ack: Ack): string | undefined {
  return ack.ok ? undefined : ack.error.code;
}

/** Sends one signal from `from` to `to` and checks the receiver gets it intact and can verify it. */
async function relay(from: Node, to: Node, data: SignalData, session = newSessionId()): Promise<void> {
  const envelope = from.envelopes.seal(to.identity.nodeId, session, data);
  const [ack, delivery] = await Promise.all([
    request(from.socket, 'signal', { to: to.identity.nodeId, envelope }),
    nextEvent<SignalDelivery>(to.socket, 'signal'),
  ]);
  expect(ack).toEqual({ ok: true });
  expect(delivery).toEqual({ from: from.identity.nodeId, envelope });
  expect(to.envelopes.open(delivery.envelope)).toEqual({
    ok: true,
    signal: { from: from.identity.nodeId, session, kind: data.type, data },
  });
}

const OFFER: SignalData = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=fingerprint:sha-256 AA:BB\r\n' };

async function health(server: SignalingServer): Promise<{ status: string; nodes: number }> {
  const res = await fetch(`${server.url}/health`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  return (await res.json()) as { status: string; nodes: number };
}

describe('TokenBucket', () => {
  it('allows a burst, then refills at the configured rate', () => {
    let now = 1_000;
    const bucket = new TokenBucket({ perSecond: 10, burst: 3, now: () => now });
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    now += 100; // one token back
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
    now += 60_000; // capped at burst
    expect(bucket.take(3)).toBe(true);
    expect(bucket.take()).toBe(false);
    now -= 5_000; // a clock stepping back neither refills nor throws
    expect(bucket.take()).toBe(false);
  });

  it('rejects invalid settings', () => {
    expect(() => new TokenBucket({ perSecond: 0, burst: 1 })).toThrow(RangeError);
    expect(() => new TokenBucket({ perSecond: 1, burst: Number.NaN })).toThrow(RangeError);
    expect(() => new TokenBucket({ perSecond: 1, burst: 1 }).take(-1)).toThrow(RangeError);
  });
});

describe('signaling server', () => {
  it('answers /health with the registered node count and 404 elsewhere', async () => {
    const server = await startServer();
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    expect(await health(server)).toEqual({ status: 'ok', nodes: 0 });
    await registeredNode(server);
    expect(await health(server)).toEqual({ status: 'ok', nodes: 1 });
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/health`, { method: 'POST' })).status).toBe(404);
  });

  it('rejects invalid options', async () => {
    await expect(createSignalingServer({ port: -1 })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await expect(createSignalingServer({ rateLimit: { perSecond: 0, burst: 1 } })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
    const turn = { urls: ['turn:relay.example:3478'], secret: 'hunter2' };
    for (const bad of [
      { ...turn, urls: [] },
      { ...turn, urls: ['stun:relay.example:3478'] },
      { ...turn, urls: ['turn:relay.example:0'] },
      { ...turn, secret: '' },
      { ...turn, ttlSeconds: 0 },
      { ...turn, ttlSeconds: 1.5 },
    ]) {
      const refused = await createSignalingServer({ turn: bad }).then(() => new Error('listening'), (err: Error) => err);
      expect(refused, JSON.stringify(bad)).toMatchObject({ code: 'ERR_INVALID_OPTION' });
      expect(refused.message).not.toContain(turn.secret);
    }
  });

  it('hands each registered node TURN credentials for itself that verify with the shared secret', async () => {
    const secret = 'coturn static-auth-secret';
    const urls = ['turn:relay.example:3478', 'turns:relay.example:5349'];
    const server = await startServer({ turn: { urls, secret, ttlSeconds: 3600 } });
    const identity = generateIdentity();
    const { socket, nonce } = await connect(server);
    const now = Math.floor(Date.now() / 1000);
    const ack = await request<RegisterReply>(socket, 'register', registration(identity, nonce));
    if (!ack.ok) throw new Error(`registration refused: ${ack.error.code}`);
    expect(isIceServerGrants(ack.iceServers)).toBe(true);
    const [grant] = ack.iceServers!;
    expect(ack.iceServers).toHaveLength(1);
    expect(grant!.urls).toEqual(urls);
    const [expiry, user] = grant!.username.split(':');
    expect(user).toBe(identity.nodeId);
    expect(Number(expiry) - now).toBeGreaterThanOrEqual(3600);
    expect(Number(expiry) - now).toBeLessThanOrEqual(3601);
    expect(grant!.credential).toBe(createHmac('sha1', secret).update(grant!.username).digest('base64'));

    const plain = await startServer();
    const conn = await connect(plain);
    expect(await request(conn.socket, 'register', registration(identity, conn.nonce))).not.toHaveProperty('iceServers');
  });

  it('registers a node under the SHA-256 of its public key', async () => {
    const server = await startServer();
    const identity = generateIdentity();
    const { socket, nonce, challenge } = await connect(server);
    expect(isChallenge(challenge)).toBe(true);
    const expected = createHash('sha256').update(Buffer.from(identity.publicKey, 'base64url')).digest('hex');
    expect(await request(socket, 'register', registration(identity, nonce))).toEqual({ ok: true, nodeId: expected });
    const again = await request(socket, 'register', registration(identity, nonce));
    expect(errorCode(again)).toBe('ERR_ALREADY_REGISTERED');
  });

  it('refuses a wrong signature with ERR_AUTH and lets the connection retry', async () => {
    const server = await startServer();
    const identity = generateIdentity();
    const { socket, nonce } = await connect(server);
    const wrongNonce = registration(identity, `${nonce}x`);
    expect(errorCode(await request(socket, 'register', wrongNonce))).toBe('ERR_AUTH');
    const garbage = { publicKey: identity.publicKey, signature: Buffer.alloc(64, 7).toString('base64url') };
    expect(errorCode(await request(socket, 'register', garbage))).toBe('ERR_AUTH');
    expect(await request(socket, 'register', registration(identity, nonce))).toMatchObject({ ok: true });
  });

  it('does not let anyone claim a public key without its private key', async () => {
    const server = await startServer();
    const victim = generateIdentity();
    const victimConn = await connect(server);
    const victimProof = registration(victim, victimConn.nonce);
    expect(await request(victimConn.socket, 'register', victimProof)).toMatchObject({ ok: true });
    const victimNode: Node = { socket: victimConn.socket, identity: victim, envelopes: new Envelopes(victim) };

    const attacker = generateIdentity();
    const { socket, nonce } = await connect(server);
    const ownSignature = { publicKey: victim.publicKey, signature: registration(attacker, nonce).signature };
    expect(errorCode(await request(socket, 'register', ownSignature))).toBe('ERR_AUTH');
    // The victim's proof answered the victim's nonce; it is worthless on another connection.
    expect(errorCode(await request(socket, 'register', victimProof))).toBe('ERR_AUTH');

    await Promise.all([noEvent(victimConn.socket, 'replaced'), relay(await registeredNode(server), victimNode, OFFER)]);
  });

  it('lets a second session of the same key replace the first', async () => {
    const server = await startServer();
    const identity = generateIdentity();
    const first = await registeredNode(server, identity);
    const sender = await registeredNode(server);
    const firstGone = Promise.all([nextEvent(first.socket, 'replaced'), nextEvent<string>(first.socket, 'disconnect')]);
    const second = await registeredNode(server, identity);
    expect(await firstGone).toEqual([{}, 'io server disconnect']);
    // The old socket's disconnect must not have removed the new registration.
    await Promise.all([relay(sender, second, OFFER), noEvent(first.socket, 'signal')]);
    expect(await health(server)).toEqual({ status: 'ok', nodes: 2 });
  });

  it('relays offer, answer and candidate envelopes that the receiver can open', async () => {
    const server = await startServer();
    const alice = await registeredNode(server);
    const bob = await registeredNode(server);
    const session = newSessionId();
    await relay(alice, bob, OFFER, session);
    await relay(bob, alice, { type: 'answer', sdp: 'v=0\r\n' }, session);
    const candidate = { candidate: 'candidate:1 1 udp 2122260223 10.0.0.2 54321 typ host', sdpMLineIndex: 0, sdpMid: '0' };
    await relay(alice, bob, { type: 'candidate', candidate }, session);
    await relay(bob, alice, { type: 'reject', code: 'busy' });
  });

  it('strips fields outside the envelope before relaying', async () => {
    const server = await startServer();
    const alice = await registeredNode(server);
    const bob = await registeredNode(server);
    const envelope = alice.envelopes.seal(bob.identity.nodeId, newSessionId(), OFFER);
    const padded = Object.assign(JSON.parse('{"__proto__":{"polluted":true},"extra":"junk"}') as object, envelope);
    const [ack, delivery] = await Promise.all([
      request(alice.socket, 'signal', { to: bob.identity.nodeId, envelope: padded }),
      nextEvent<SignalDelivery>(bob.socket, 'signal'),
    ]);
    expect(ack).toEqual({ ok: true });
    expect(Object.keys(delivery.envelope).sort()).toEqual(Object.keys(envelope).sort());
    expect(bob.envelopes.open(delivery.envelope)).toMatchObject({ ok: true });
  });

  it('answers ERR_UNKNOWN_PEER for a target that is not (or no longer) connected', async () => {
    const server = await startServer();
    const alice = await registeredNode(server);
    const stranger = generateIdentity().nodeId;
    const toStranger = alice.envelopes.seal(stranger, newSessionId(), OFFER);
    expect(errorCode(await request(alice.socket, 'signal', { to: stranger, envelope: toStranger }))).toBe('ERR_UNKNOWN_PEER');

    const bob = await registeredNode(server);
    bob.socket.disconnect();
    await eventually(async () => {
      const envelope = alice.envelopes.seal(bob.identity.nodeId, newSessionId(), OFFER);
      const ack = await request(alice.socket, 'signal', { to: bob.identity.nodeId, envelope });
      expect(errorCode(ack)).toBe('ERR_UNKNOWN_PEER');
    });
  });

  it('refuses to relay for a socket that has not registered', async () => {
    const server = await startServer();
    const bob = await registeredNode(server);
    const { socket } = await connect(server);
    const envelope = new Envelopes(generateIdentity()).seal(bob.identity.nodeId, newSessionId(), OFFER);
    const [ack] = await Promise.all([
      request(socket, 'signal', { to: bob.identity.nodeId, envelope }),
      noEvent(bob.socket, 'signal'),
    ]);
    expect(errorCode(ack)).toBe('ERR_NOT_REGISTERED');
  });

  it('refuses envelopes whose from or to do not match the request', async () => {
    const server = await startServer();
    const alice = await registeredNode(server);
    const bob = await registeredNode(server);
    const carol = await registeredNode(server);
    const forged = bob.envelopes.seal(carol.identity.nodeId, newSessionId(), OFFER);
    const misaddressed = alice.envelopes.seal(carol.identity.nodeId, newSessionId(), OFFER);
    const [spoofAck, redirectAck] = await Promise.all([
      request(alice.socket, 'signal', { to: carol.identity.nodeId, envelope: forged }),
      request(alice.socket, 'signal', { to: bob.identity.nodeId, envelope: misaddressed }),
      noEvent(carol.socket, 'signal'),
      noEvent(bob.socket, 'signal'),
    ]);
    expect(errorCode(spoofAck)).toBe('ERR_BAD_REQUEST');
    expect(errorCode(redirectAck)).toBe('ERR_BAD_REQUEST');
  });

  it('survives malformed payloads and keeps serving everyone else', async () => {
    const server = await startServer();
    const alice = await registeredNode(server);
    const bob = await registeredNode(server);
    const mallory = await registeredNode(server);
    const { socket: fresh, nonce } = await connect(server);

    let deep: unknown = 'bottom';
    for (let i = 0; i < 2000; i++) deep = { a: [deep] };
    const valid = mallory.envelopes.seal(bob.identity.nodeId, newSessionId(), OFFER);
    const to = bob.identity.nodeId;
    const malformed: unknown[] = [
      null,
      0,
      -1.5,
      'register',
      '',
      true,
      [],
      [1, 'two', null],
      {},
      deep,
      'x'.repeat(40_000),
      JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}'),
      { publicKey: mallory.identity.publicKey },
      { publicKey: 42, signature: ['a'] },
      { publicKey: `${mallory.identity.publicKey}=`, signature: registration(mallory.identity, nonce).signature },
      { to },
      { envelope: valid },
      { to: to.toUpperCase(), envelope: valid },
      { to, envelope: { ...valid, v: 2 } },
      { to, envelope: { ...valid, seq: -1 } },
      { to, envelope: { ...valid, seq: 1.5 } },
      { to, envelope: { ...valid, kind: 'bogus' } },
      { to, envelope: { ...valid, session: 'short' } },
      { to, envelope: { ...valid, data: 'x'.repeat(20_000) } },
      { to, envelope: { ...valid, sig: undefined } },
      { to, envelope: JSON.parse(`{"__proto__":${JSON.stringify(valid)}}`) },
    ];
    for (const payload of malformed) {
      expect(errorCode(await request(fresh, 'register', payload))).toBe('ERR_BAD_REQUEST');
      expect(errorCode(await request(mallory.socket, 'signal', payload))).toBe('ERR_BAD_REQUEST');
      // Without an ack function: nothing to answer, and nothing may break.
      fresh.emit('register', payload);
      mallory.socket.emit('signal', payload);
    }
    expect(errorCode(await request(fresh, 'register'))).toBe('ERR_BAD_REQUEST');
    expect(errorCode(await request(mallory.socket, 'signal', OFFER, 'extra', 3))).toBe('ERR_BAD_REQUEST');

    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(fresh.connected && mallory.socket.connected).toBe(true);
    expect(await request(fresh, 'register', registration(generateIdentity(), nonce))).toMatchObject({ ok: true });
    await relay(alice, bob, OFFER);
    expect(await health(server)).toEqual({ status: 'ok', nodes: 4 });
  });

  it('disconnects a socket that sends more than maxPayloadBytes, and only that socket', async () => {
    const server = await startServer({ maxPayloadBytes: 8 * 1024 });
    const alice = await registeredNode(server);
    const bob = await registeredNode(server);
    const mallory = await registeredNode(server);
    const gone = nextEvent<string>(mallory.socket, 'disconnect');
    mallory.socket.emit('signal', { to: bob.identity.nodeId, padding: 'x'.repeat(16 * 1024) });
    expect(await gone).toMatch(/^transport (close|error)$/);
    await relay(alice, bob, OFFER);
    await eventually(async () => expect(await health(server)).toEqual({ status: 'ok', nodes: 2 }));
  });

  it('answers unknown events with ERR_UNKNOWN_EVENT when acked and ignores them otherwise', async () => {
    const server = await startServer();
    const { socket, nonce } = await connect(server);
    for (const event of ['bogus', '__proto__', 'constructor', 'hasOwnProperty', 'challenge', 'replaced']) {
      expect(errorCode(await request(socket, event, { any: 'thing' }))).toBe('ERR_UNKNOWN_EVENT');
      socket.emit(event, { any: 'thing' });
    }
    expect(await request(socket, 'register', registration(generateIdentity(), nonce))).toMatchObject({ ok: true });
  });

  it('rate-limits bursts beyond the bucket without disconnecting', async () => {
    const server = await startServer({ rateLimit: { perSecond: 1, burst: 3 } });
    const { socket } = await connect(server);
    const acks = await Promise.all(Array.from({ length: 6 }, () => request(socket, 'bogus')));
    expect(acks.map(errorCode)).toEqual([
      'ERR_UNKNOWN_EVENT',
      'ERR_UNKNOWN_EVENT',
      'ERR_UNKNOWN_EVENT',
      'ERR_RATE_LIMITED',
      'ERR_RATE_LIMITED',
      'ERR_RATE_LIMITED',
    ]);
    expect(socket.connected).toBe(true);
  });

  it('disconnects a flooding socket while an honest pair keeps relaying', async () => {
    const server = await startServer();
    const alice = await registeredNode(server);
    const bob = await registeredNode(server);
    const flooder = await registeredNode(server);
    const evicted = Promise.all([nextEvent<{ code: string }>(flooder.socket, 'notice'), nextEvent<string>(flooder.socket, 'disconnect')]);
    const codes = new Map<string, number>();
    const count = (ack: Ack): void => {
      const code = errorCode(ack) ?? 'ok';
      codes.set(code, (codes.get(code) ?? 0) + 1);
    };
    for (let i = 0; i < 5000; i++) flooder.socket.emit('signal', { to: bob.identity.nodeId, n: i }, count);

    await relay(alice, bob, OFFER);
    const [notice, reason] = await evicted;
    expect(notice.code).toBe('ERR_RATE_LIMITED');
    expect(reason).toBe('io server disconnect');
    expect(codes.get('ERR_RATE_LIMITED')).toBeGreaterThan(0);
    expect(codes.get('ok')).toBeUndefined();
    await relay(bob, alice, OFFER);
    expect(await health(server)).toEqual({ status: 'ok', nodes: 2 });
  });

  it('disconnects sockets that do not register in time, and logs why', async () => {
    const warnings: object[] = [];
    const logger: Logger = {
      debug: () => {},
      info: () => {},
      warn: (obj) => warnings.push(obj),
      error: () => {},
      child(bindings) {
        return { ...this, warn: (obj: object) => warnings.push({ ...bindings, ...obj }) } as Logger;
      },
    };
    const server = await startServer({ registerTimeoutMs: 200, logger });
    const registered = await registeredNode(server);
    const idle = await connect(server);
    const [notice, reason] = await Promise.all([
      nextEvent<{ code: string }>(idle.socket, 'notice'),
      nextEvent<string>(idle.socket, 'disconnect'),
    ]);
    expect(notice.code).toBe('ERR_REGISTER_TIMEOUT');
    expect(reason).toBe('io server disconnect');
    expect(warnings).toContainEqual(expect.objectContaining({ code: 'ERR_REGISTER_TIMEOUT', socket: expect.any(String) }));
    await sleep(250);
    expect(registered.socket.connected).toBe(true);
  });

  it('closes cleanly, disconnecting clients, and tolerates a second close', async () => {
    const server = await startServer();
    const alice = await registeredNode(server);
    const gone = nextEvent<string>(alice.socket, 'disconnect');
    await Promise.all([server.close(), server.close()]);
    await server.close();
    expect(await gone).toMatch(/^transport (close|error)$/);
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
  });
});
