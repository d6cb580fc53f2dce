import { createHash, createHmac, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import type { Logger } from '../src/log.js';
import { addressKey } from '../src/server/admission.js';
import type { SignalingServerOptions } from '../src/server/config.js';
import { KeyedBuckets } from '../src/server/keyedBuckets.js';
import { createSignalingServer, type SignalingServer } from '../src/server/signalingServer.js';
import { generateIdentity } from '../src/wire/identity.js';
import { Envelopes, newSessionId, type SignalData } from '../src/wire/envelope.js';
import type { Identity } from '../src/wire/keys.js';
import {
  isChallenge,
  isIceServerGrants,
  registerMessage,
  type Ack,
  type ChallengeMessage,
  type RegisterReply,
  type SignalDelivery,
} from '../src/wire/protocol.js';
import { TokenBucket } from '../src/wire/tokenBucket.js';
import { eventually } from './helpers.js';
import { nonCanonical } from './support/identities.js';

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
    signal: { from: from.identity.nodeId, session, seq: expect.any(Number), kind: data.type, data, sealed: false },
  });
}

const OFFER: SignalData = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=fingerprint:sha-256 AA:BB\r\n' };

async function health(server: SignalingServer): Promise<{ status: string; nodes: number }> {
  const res = await fetch(`${server.url}/health`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  return (await res.json()) as { status: string; nodes: number };
}

/** Opens a connection and reports whether the server let it in (it sent a challenge) or refused the handshake. */
function attempt(server: SignalingServer): Promise<'challenged' | 'refused'> {
  const socket = io(server.url, { transports: ['websocket'], reconnection: false, forceNew: true });
  clients.push(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('neither challenged nor refused')), WAIT_MS);
    socket.once('challenge', () => (clearTimeout(timer), resolve('challenged')));
    socket.once('connect_error', () => (clearTimeout(timer), resolve('refused')));
  });
}

/** A bare WebSocket upgrade to the Socket.IO endpoint: the status and body of the server's answer. */
function upgrade(server: SignalingServer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: server.host,
      port: server.port,
      path: '/socket.io/?EIO=4&transport=websocket',
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
      },
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const METRIC_NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"';
const SAMPLE = new RegExp(`^(${METRIC_NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*)?\\})? (-?[0-9.]+(?:e[+-]?[0-9]+)?)$`);

/**
 * Parses Prometheus text exposition (0.0.4) as strictly as a scraper: every line is a HELP, a TYPE or a
 * sample; each family has HELP then TYPE before its samples; counters end in `_total`; label values
 * unescape.
 */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  expect(text.endsWith('\n')).toBe(true);
  const helped = new Set<string>();
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    const help = new RegExp(`^# HELP (${METRIC_NAME}) \\S`).exec(line);
    const type = new RegExp(`^# TYPE (${METRIC_NAME}) (counter|gauge)$`).exec(line);
    const sample = SAMPLE.exec(line);
    if (help) {
      expect(helped.has(help[1]!), `second HELP: ${line}`).toBe(false);
      helped.add(help[1]!);
    } else if (type) {
      expect(helped.has(type[1]!) && !types.has(type[1]!), `TYPE without HELP or twice: ${line}`).toBe(true);
      if (type[2] === 'counter') expect(type[1]).toMatch(/_total$/);
      types.set(type[1]!, type[2]!);
    } else if (sample) {
      expect(types.has(sample[1]!), `sample before its TYPE: ${line}`).toBe(true);
      const labels: Record<string, string> = {};
      for (const [, name, value] of (sample[2] ?? '').matchAll(new RegExp(LABEL, 'g'))) {
        expect(labels, `label twice: ${line}`).not.toHaveProperty(name!);
        labels[name!] = value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      }
      samples.push({ name: sample[1]!, labels, value: Number(sample[sample.length - 1]) });
    } else {
      throw new Error(`malformed exposition line: ${JSON.stringify(line)}`);
    }
  }
  return { types, samples };
}

async function scrape(server: SignalingServer): Promise<{ types: Map<string, string>; samples: Sample[] }> {
  const res = await fetch(`${server.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(await res.text());
}

/** The value of the one sample named `name` whose labels include `labels`. */
function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  expect(found, `${name} ${JSON.stringify(labels)}`).toHaveLength(1);
  return found[0]!.value;
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

describe('KeyedBuckets', () => {
  it('keeps a bucket while held and after release until it refills, and forgets the oldest beyond maxIdle', () => {
    let now = 0;
    const buckets = new KeyedBuckets({ perSecond: 1, burst: 2, maxIdle: 2, now: () => now });
    buckets.hold('a');
    buckets.hold('a');
    expect([buckets.take('a'), buckets.take('a'), buckets.take('a')]).toEqual([true, true, false]);
    buckets.release('a');
    expect(buckets.holders('a')).toBe(1);
    buckets.release('a');
    expect(buckets.holders('a')).toBe(0);
    // Released but drained: reconnecting must not refill it.
    expect(buckets.take('a')).toBe(false);
    now += 2_000;
    expect(buckets.take('b')).toBe(true);
    // 'a' refilled meanwhile, so it held nothing worth keeping and went when 'b' was parked.
    expect(buckets.size).toBe(1);
    expect([buckets.take('c'), buckets.take('d')]).toEqual([true, true]);
    expect(buckets.size).toBe(2);
    // 'b' (one token left) was the oldest beyond maxIdle: forgotten, so it starts full again.
    expect([buckets.take('b'), buckets.take('b'), buckets.take('b')]).toEqual([true, true, false]);
    expect(buckets.size).toBe(2);
  });

  it('rejects invalid settings', () => {
    expect(() => new KeyedBuckets({ perSecond: 1, burst: 1, maxIdle: 0 })).toThrow(RangeError);
    expect(() => new KeyedBuckets({ perSecond: 1, burst: 0, maxIdle: 1 })).toThrow(RangeError);
  });
});

describe('addressKey', () => {
  it('counts IPv4 addresses alone and IPv6 addresses by their /64', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:DB8:1:2::9')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('64:ff9b:1:2:3:4:1.2.3.4')).toBe('64:ff9b:1:2::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey(undefined)).toBe('');
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
    for (const bad of [
      { nodeRateLimit: { perSecond: -1, burst: 1 } },
      { maxConnectionsPerAddress: 0 },
      { maxConnectionsPerAddress: 1.5 },
      { handshakeRateLimit: { perSecond: 1, burst: 0 } },
      { handshakeRateLimit: { perSecond: Number.NaN, burst: 1 } },
      { maxIdleBuckets: Number.POSITIVE_INFINITY },
      { serverId: '' },
      { serverId: 42 as unknown as string },
    ]) {
      await expect(createSignalingServer(bad), JSON.stringify(bad)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
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

  it('refuses a key or signature spelled with non-zero unused bits (one rule on both sides: canonical base64url)', async () => {
    const server = await startServer();
    const identity = generateIdentity();
    const { socket, nonce } = await connect(server);
    const proof = registration(identity, nonce);
    expect(Buffer.from(nonCanonical(proof.publicKey), 'base64url')).toEqual(Buffer.from(proof.publicKey, 'base64url'));
    expect(errorCode(await request(socket, 'register', { ...proof, publicKey: nonCanonical(proof.publicKey) }))).toBe('ERR_BAD_REQUEST');
    expect(errorCode(await request(socket, 'register', { ...proof, signature: nonCanonical(proof.signature) }))).toBe('ERR_BAD_REQUEST');
    expect(await request(socket, 'register', proof)).toMatchObject({ ok: true, nodeId: identity.nodeId });
    // A receiver applies the same rule to an envelope's key and signature.
    const envelope = new Envelopes(identity).seal(identity.nodeId, newSessionId(), OFFER);
    expect(new Envelopes(identity).open({ ...envelope, key: nonCanonical(envelope.key) })).toEqual({ ok: false, reason: 'malformed' });
    expect(new Envelopes(identity).open({ ...envelope, sig: nonCanonical(envelope.sig) })).toEqual({ ok: false, reason: 'malformed' });
    expect(new Envelopes(identity).open(envelope).ok).toBe(true);
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
    await relay(bob, alice, { type: 'restart' }, session);
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

  it('refuses connections from one address beyond maxConnectionsPerAddress until one closes', async () => {
    const server = await startServer({ maxConnectionsPerAddress: 2 });
    const first = await connect(server);
    await connect(server);
    expect(await attempt(server)).toBe('refused');
    const refused = await upgrade(server);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/^ERR_TOO_MANY_CONNECTIONS: /);
    expect(server.metrics().rejectedTotal).toMatchObject({ ERR_TOO_MANY_CONNECTIONS: 2, ERR_HANDSHAKE_RATE_LIMITED: 0 });

    first.socket.disconnect();
    // Refused attempts cost no handshake budget, so retrying until the slot is freed is harmless.
    await eventually(async () => expect(await attempt(server)).toBe('challenged'));
    expect(await attempt(server)).toBe('refused');
  });

  it('refuses a burst of handshakes from one address beyond its handshake rate', async () => {
    const server = await startServer({ handshakeRateLimit: { perSecond: 0.01, burst: 3 } });
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => attempt(server)));
    expect(outcomes.filter((o) => o === 'challenged')).toHaveLength(3);
    expect(outcomes.filter((o) => o === 'refused')).toHaveLength(3);
    const refused = await upgrade(server);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/^ERR_HANDSHAKE_RATE_LIMITED: /);
    expect(server.metrics().rejectedTotal).toMatchObject({ ERR_HANDSHAKE_RATE_LIMITED: 4, ERR_TOO_MANY_CONNECTIONS: 0 });
    // Closing connections frees their slots, not the handshake budget.
    for (const socket of clients) socket.disconnect();
    await eventually(async () => expect(server.metrics().connectedSockets).toBe(0));
    expect(await attempt(server)).toBe('refused');
  });

  it('limits a node id across its connections, so re-registering does not refill its budget', async () => {
    const server = await startServer({ nodeRateLimit: { perSecond: 0.01, burst: 3 } });
    const identity = generateIdentity();
    const stranger = generateIdentity().nodeId;
    const signal = (node: Node): Promise<Ack> =>
      request(node.socket, 'signal', { to: stranger, envelope: node.envelopes.seal(stranger, newSessionId(), OFFER) });
    const mallory = await registeredNode(server, identity);
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < 4; i++) codes.push(errorCode(await signal(mallory)));
    expect(codes).toEqual(['ERR_UNKNOWN_PEER', 'ERR_UNKNOWN_PEER', 'ERR_UNKNOWN_PEER', 'ERR_RATE_LIMITED']);

    mallory.socket.disconnect();
    const again = await registeredNode(server, identity);
    expect(errorCode(await signal(again))).toBe('ERR_RATE_LIMITED');
    expect(errorCode(await signal(await registeredNode(server)))).toBe('ERR_UNKNOWN_PEER');
  });

  it('serves Prometheus metrics whose counters follow registrations, relays and refusals', async () => {
    const serverId = 'eu-1 "blue"\\rack\n2';
    const server = await startServer({ serverId, maxConnectionsPerAddress: 3 });
    const families = {
      p2p_signaling_connected_sockets: 'gauge',
      p2p_signaling_registered_nodes: 'gauge',
      p2p_signaling_registrations_total: 'counter',
      p2p_signaling_relayed_signals_total: 'counter',
      p2p_signaling_rejected_total: 'counter',
      p2p_signaling_process_resident_memory_bytes: 'gauge',
    };
    const reasons = [
      'ERR_ALREADY_REGISTERED',
      'ERR_AUTH',
      'ERR_BAD_REQUEST',
      'ERR_CLUSTER_UNAVAILABLE',
      'ERR_HANDSHAKE_RATE_LIMITED',
      'ERR_NOT_REGISTERED',
      'ERR_RATE_LIMITED',
      'ERR_REGISTER_TIMEOUT',
      'ERR_TOO_MANY_CONNECTIONS',
      'ERR_UNKNOWN_EVENT',
      'ERR_UNKNOWN_PEER',
    ];

    const before = await scrape(server);
    expect(Object.fromEntries(before.types)).toEqual(families);
    expect(before.samples.every((s) => s.labels.server === serverId)).toBe(true);
    const rejected = (samples: Sample[]): Record<string, number> =>
      Object.fromEntries(samples.filter((s) => s.name === 'p2p_signaling_rejected_total').map((s) => [s.labels.reason, s.value]));
    expect(Object.keys(rejected(before.samples)).sort()).toEqual(reasons);
    expect(Object.values(rejected(before.samples)).every((v) => v === 0)).toBe(true);
    for (const name of Object.keys(families).filter((n) => n !== 'p2p_signaling_process_resident_memory_bytes' && n !== 'p2p_signaling_rejected_total')) {
      expect(sampleValue(before.samples, name), name).toBe(0);
    }
    expect(sampleValue(before.samples, 'p2p_signaling_process_resident_memory_bytes')).toBeGreaterThan(0);

    const alice = await registeredNode(server);
    const bob = await registeredNode(server);
    await relay(alice, bob, OFFER);
    await relay(bob, alice, { type: 'answer', sdp: 'v=0\r\n' });
    const stranger = generateIdentity().nodeId;
    const toStranger = alice.envelopes.seal(stranger, newSessionId(), OFFER);
    expect(errorCode(await request(alice.socket, 'signal', { to: stranger, envelope: toStranger }))).toBe('ERR_UNKNOWN_PEER');
    expect(errorCode(await request(alice.socket, 'bogus'))).toBe('ERR_UNKNOWN_EVENT');
    await connect(server);
    expect(await attempt(server)).toBe('refused');

    const after = await scrape(server);
    expect(sampleValue(after.samples, 'p2p_signaling_connected_sockets')).toBe(3);
    expect(sampleValue(after.samples, 'p2p_signaling_registered_nodes')).toBe(2);
    expect(sampleValue(after.samples, 'p2p_signaling_registrations_total')).toBe(2);
    expect(sampleValue(after.samples, 'p2p_signaling_relayed_signals_total')).toBe(2);
    expect(rejected(after.samples)).toEqual({
      ...Object.fromEntries(reasons.map((r) => [r, 0])),
      ERR_UNKNOWN_PEER: 1,
      ERR_UNKNOWN_EVENT: 1,
      ERR_TOO_MANY_CONNECTIONS: 1,
    });
    expect(server.metrics()).toMatchObject({
      server: serverId,
      connectedSockets: 3,
      registeredNodes: 2,
      registrationsTotal: 2,
      relayedSignalsTotal: 2,
      rejectedTotal: rejected(after.samples),
    });
  });

  it('names itself hostname:port in metrics unless given a serverId', async () => {
    const server = await startServer();
    const { samples } = await scrape(server);
    expect(new Set(samples.map((s) => s.labels.server))).toEqual(new Set([`${hostname()}:${server.port}`]));
    expect(server.metrics().server).toBe(`${hostname()}:${server.port}`);
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

describe('signaling server, revision 2', () => {
  /** A client that proves its key in the handshake `auth`, over the Engine.IO session id, as the node's client does. */
  function connectWithProof(server: SignalingServer, identity: Identity, forge?: (sid: string) => string): ClientSocket {
    const socket: ClientSocket = io(server.url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: (give) => give(registration(identity, forge ? forge(socket.io.engine.id) : socket.io.engine.id)),
    });
    clients.push(socket);
    return socket;
  }

  it('registers a connection whose handshake proves its key, with no challenge and no round trip more', async () => {
    const server = await startServer({ rateLimit: { perSecond: 50, burst: 100 } });
    const identity = generateIdentity();
    const socket = connectWithProof(server, identity);
    const [registered] = await Promise.all([nextEvent(socket, 'registered'), noEvent(socket, 'challenge', 300)]);
    expect(registered).toEqual({ v: 1, rateLimit: { perSecond: 50, burst: 100 }, revision: 2, nodeId: identity.nodeId });
    expect((await health(server)).nodes).toBe(1);
    expect(await request(socket, 'register', registration(identity, 'x'.repeat(43)))).toMatchObject({ ok: false, error: { code: 'ERR_ALREADY_REGISTERED' } });
  });

  it('introduces DHT members and hands out TURN credentials at the handshake as at register', async () => {
    const server = await startServer({ turn: { urls: ['turn:192.0.2.1:3478'], secret: 's3cret' } });
    const first = generateIdentity();
    const firstSocket = io(server.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: (give) => give({ ...registration(first, firstSocket.io.engine.id), dht: true }) });
    clients.push(firstSocket);
    await nextEvent(firstSocket, 'registered');
    const second = generateIdentity();
    const socket = io(server.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: (give) => give({ ...registration(second, socket.io.engine.id), dht: true }) });
    clients.push(socket);
    const registered = await nextEvent<RegisterReply>(socket, 'registered');
    expect(registered.peers).toEqual([first.nodeId]);
    expect(isIceServerGrants(registered.iceServers)).toBe(true);
    expect(registered.iceServers![0]!.username).toMatch(new RegExp(`^\\d+:${second.nodeId}$`));
  });

  it('falls back to a challenge when the handshake proof does not verify (a replayed or forged one)', async () => {
    const server = await startServer();
    const identity = generateIdentity();
    // Signed over another connection's session id: worthless on this one.
    const socket = connectWithProof(server, identity, () => 'AAAAAAAAAAAAAAAAAAAA');
    const [challenge] = await Promise.all([nextEvent<ChallengeMessage>(socket, 'challenge'), noEvent(socket, 'registered', 300)]);
    expect(challenge).toMatchObject({ v: 1, revision: 2 });
    expect(server.metrics().rejectedTotal.ERR_AUTH).toBe(1);
    expect(await request(socket, 'register', registration(identity, challenge.nonce))).toEqual({ ok: true, nodeId: identity.nodeId });
  });

  it('answers a signal sent without an ack only if it fails, with signal-failed naming its target and session', async () => {
    const server = await startServer();
    const [a, b] = [await registeredNode(server), await registeredNode(server)];
    const session = newSessionId();
    const envelope = a.envelopes.seal(b.identity.nodeId, session, OFFER);
    const [delivery] = await Promise.all([nextEvent<SignalDelivery>(b.socket, 'signal'), noEvent(a.socket, 'signal-failed', 300), a.socket.emit('signal', { to: b.identity.nodeId, envelope })]);
    expect(delivery).toEqual({ from: a.identity.nodeId, envelope });

    const gone = generateIdentity().nodeId;
    const lost = a.envelopes.seal(gone, session, OFFER);
    a.socket.emit('signal', { to: gone, envelope: lost });
    expect(await nextEvent(a.socket, 'signal-failed')).toEqual({ to: gone, session, error: { code: 'ERR_UNKNOWN_PEER', message: expect.any(String) } });
    // A request too malformed to name its target still gets an answer.
    a.socket.emit('signal', { to: 'nobody' });
    expect(await nextEvent(a.socket, 'signal-failed')).toEqual({ error: { code: 'ERR_BAD_REQUEST', message: expect.any(String) } });
    expect(server.metrics().rejectedTotal).toMatchObject({ ERR_UNKNOWN_PEER: 1, ERR_BAD_REQUEST: 1 });
  });

  it('still acknowledges every signal that asks, as revision 1 did', async () => {
    const server = await startServer();
    const [a, b] = [await registeredNode(server), await registeredNode(server)];
    await relay(a, b, OFFER);
    await relay(b, a, { type: 'answer', sdp: OFFER.sdp });
  });
});
