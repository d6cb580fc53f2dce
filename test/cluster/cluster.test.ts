/**
 * Three signaling server processes joined through a real redis-server, and real nodes spread over
 * them connecting pairwise with real WebRTC: cross-server signaling, a cluster-wide registry, a
 * server killed under its nodes, and Redis lost and back. Then bare signaling clients and Redis's own
 * counters pin what a relay and a registration cost, and who hears of them.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity, type P2PNode } from '../../src/index.js';
import { CLUSTER_REQUEST_TIMEOUT_MS } from '../../src/server/cluster.js';
import { nodeChannel } from '../../src/server/clusterMessages.js';
import { createSignalingServer } from '../../src/server/signalingServer.js';
import { Harness, eventually, next } from '../helpers.js';
import { Client, errorCode } from './client.js';
import { Redis, SignalingProcess } from './processes.js';

const FAST = { backoff: { initialMs: 50, maxMs: 500 }, timeouts: { offer: 5000 } };

/** A redis-server and three signaling server processes on it, each added to `processes` for the test to kill. */
async function startCluster(processes: { kill(): Promise<void> }[]): Promise<{ redis: Redis; servers: SignalingProcess[] }> {
  const redis = await Redis.start();
  processes.push(redis);
  const servers = await Promise.all([0, 1, 2].map(() => SignalingProcess.start(redis.url)));
  processes.push(...servers);
  return { redis, servers };
}

describe('a signaling cluster of three server processes on one Redis', () => {
  const h = new Harness();
  const processes: { kill(): Promise<void> }[] = [];
  afterEach(async () => {
    await h.cleanup();
    await Promise.all(processes.splice(0).map((p) => p.kill()));
  });

  async function cluster() {
    const { redis, servers } = await startCluster(processes);
    const urls = servers.map((s) => s.url);
    /** A node on server `i`, failing over to the others in turn. */
    const nodeOn = (i: number, options = {}): Promise<P2PNode> => h.started([...urls.slice(i), ...urls.slice(0, i)], { ...FAST, ...options });
    return { redis, servers, urls, nodeOn };
  }

  const exchange = async (from: P2PNode, to: P2PNode, text: string): Promise<void> => {
    const arrived = next(to.data$);
    await from.send(to.nodeId, text);
    expect(await arrived).toEqual({ from: from.nodeId, data: text });
  };

  it('connects nodes registered on different servers, and knows who is registered anywhere', async () => {
    const { nodeOn } = await cluster();
    const [a, b, c] = await Promise.all([nodeOn(0), nodeOn(1), nodeOn(2)]);
    await a.connectToNode(b.nodeId);
    await b.connectToNode(c.nodeId);
    await c.connectToNode(a.nodeId);
    await exchange(a, b, 'a→b');
    await exchange(b, c, 'b→c');
    await exchange(c, a, 'c→a');
    // Unknown on every server: refused at once, not after the offer timeout.
    const unknown = randomBytes(32).toString('hex');
    const started = Date.now();
    await expect(a.connectToNode(unknown)).rejects.toMatchObject({ code: 'ERR_PEER_REJECTED' });
    expect(Date.now() - started).toBeLessThan(FAST.timeouts.offer);
  });

  it('lets a newer session on another server replace the older one', async () => {
    const { nodeOn } = await cluster();
    const identity = generateIdentity();
    const first = await nodeOn(0, { identity });
    const failed = next(first.transitions$, (t) => t.actor === 'node' && t.to === 'running.signalingFailed');
    const second = await nodeOn(1, { identity });
    await failed;
    const other = await nodeOn(2);
    await other.connectToNode(second.nodeId);
    await exchange(other, second, 'to the newer session');
  });

  it('moves the nodes of a killed server to the others, keeping their data channels open', async () => {
    const { servers, nodeOn } = await cluster();
    const [a, b, c] = await Promise.all([nodeOn(0), nodeOn(1), nodeOn(2)]);
    await a.connectToNode(b.nodeId);
    const back = next(a.transitions$, (t) => t.actor === 'node' && t.from === 'running.offline' && t.to === 'running.online', 15_000);
    await servers[0]!.kill();
    await exchange(a, b, 'while a reconnects');
    await back;
    await a.connectToNode(c.nodeId);
    await exchange(c, a, 'through another server');
    await exchange(b, a, 'still open');
  });

  it('reports Redis loss as a clear refusal without crashing, and recovers when it returns', async () => {
    const { redis, servers, nodeOn } = await cluster();
    const [a, b] = await Promise.all([nodeOn(0), nodeOn(1)]);
    await redis.kill();
    const error = await a.connectToNode(b.nodeId).then(
      () => undefined,
      (err: Error & { code?: string }) => err,
    );
    expect(error?.message).toMatch(/ERR_CLUSTER_UNAVAILABLE/);
    for (const server of servers) expect((await fetch(`${server.url}/health`)).status).toBe(200);

    processes.push(await Redis.start(redis.port));
    // The servers' clients reconnect with backoff (at most 2 s apart).
    let connected = false;
    for (let attempt = 0; attempt < 20 && !connected; attempt++) {
      connected = await a.connectToNode(b.nodeId).then(
        () => true,
        async () => (await new Promise((resolve) => setTimeout(resolve, 500)), false),
      );
    }
    expect(connected).toBe(true);
    await exchange(a, b, 'after Redis came back');
  });
});

/** Retries `check` every 100 ms (gentle on the servers' rate limits) for up to 10 s. */
const until = (check: () => Promise<void> | void): Promise<void> => eventually(check, 10_000, 100);

/** The channel of a node, as the servers compute it. */
const channelOf = (client: Client): string => nodeChannel(client.nodeId);

async function relayedTotal(server: SignalingProcess): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^p2p_signaling_relayed_signals_total\{[^}]*\} (\d+)$/m.exec(text)![1]);
}

describe('a cross-server relay in a cluster of three', () => {
  const clients: Client[] = [];
  const processes: { kill(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await Promise.all(processes.splice(0).map((p) => p.kill()));
  });

  async function cluster() {
    const { redis, servers } = await startCluster(processes);
    const on = async (server: SignalingProcess): Promise<Client> => {
      const client = await Client.on(server.url);
      clients.push(client);
      return client;
    };
    return { redis, servers, on };
  }

  it('costs one SPUBLISH, heard only by the target’s server; a registration one SSUBSCRIBE and one SHARDNUMSUB', async () => {
    const { redis, servers, on } = await cluster();
    const [a, c] = await Promise.all([on(servers[0]!), on(servers[2]!)]);
    const beforeRegistration = await redis.commandCalls();
    const b = await on(servers[1]!);
    const afterRegistration = await redis.commandCalls();
    const calls = (from: Record<string, number>, to: Record<string, number>, name: string): number => (to[name] ?? 0) - (from[name] ?? 0);
    expect(calls(beforeRegistration, afterRegistration, 'ssubscribe')).toBe(1);
    expect(calls(beforeRegistration, afterRegistration, 'pubsub|shardnumsub')).toBe(1);
    expect(calls(beforeRegistration, afterRegistration, 'spublish')).toBe(0);
    // Each node's channel has one subscriber: the server the node registered on.
    expect(await redis.shardNumSub(channelOf(a), channelOf(b), channelOf(c))).toEqual([1, 1, 1]);

    const count = 50;
    const beforeRelays = await redis.commandCalls();
    const relayedBefore = await Promise.all(servers.map(relayedTotal));
    const acks = await Promise.all(Array.from({ length: count }, (_, i) => a.signal(b.nodeId, `#${i}`)));
    expect(acks.filter((ack) => !ack.ok)).toEqual([]);
    await b.receivedCount(count);
    expect(b.texts()).toEqual(Array.from({ length: count }, (_, i) => `#${i}`));
    const afterRelays = await redis.commandCalls();
    expect(calls(beforeRelays, afterRelays, 'spublish')).toBe(count);
    expect(calls(beforeRelays, afterRelays, 'publish')).toBe(0);
    expect(calls(beforeRelays, afterRelays, 'pubsub|shardnumsub')).toBe(0);
    const relayed = (await Promise.all(servers.map(relayedTotal))).map((n, i) => n - relayedBefore[i]!);
    expect(relayed).toEqual([count, 0, 0]);
    expect(c.received).toEqual([]);
  });

  it('never finds unknown a node whose registration another server has acknowledged', async () => {
    const { servers, on } = await cluster();
    const a = await on(servers[0]!);
    for (let i = 0; i < 50; i++) {
      const target = await on(servers[1 + (i % 2)]!);
      expect(await a.signal(target.nodeId, `#${i}`)).toEqual({ ok: true });
      await target.receivedCount(1);
      expect(target.texts()).toEqual([`#${i}`]);
      target.close();
    }
  });

  it('drops what is not a cluster message on a node’s channel, and replaces the node only for another session', async () => {
    const { redis, servers, on } = await cluster();
    const [a, b] = await Promise.all([on(servers[0]!), on(servers[1]!)]);
    // Each heard by b's server (1 receiver), none of them a signal or a replacement of b.
    for (const junk of ['', 'x', 's', 's{"from":"not closed"', 'sno object}', 'r', `r${b.socket.id}`]) {
      expect(await redis.cli('SPUBLISH', channelOf(b), junk)).toBe('1');
    }
    expect(await a.signal(b.nodeId, 'after junk')).toEqual({ ok: true });
    await b.receivedCount(1);
    expect(b.texts()).toEqual(['after junk']);
    expect(b.socket.connected).toBe(true);

    const replaced = new Promise((resolve) => b.socket.once('replaced', resolve));
    const gone = new Promise((resolve) => b.socket.once('disconnect', resolve));
    await redis.cli('SPUBLISH', channelOf(b), 'rsome-other-session');
    await Promise.all([replaced, gone]);
    await until(async () => expect(await redis.shardNumSub(channelOf(b))).toEqual([0]));
    expect(errorCode(await a.signal(b.nodeId))).toBe('ERR_UNKNOWN_PEER');
  });

  it('finds unknown a node as soon as its server is killed: Redis drops the dead server’s subscriptions', async () => {
    const { redis, servers, on } = await cluster();
    const [a, b] = await Promise.all([on(servers[0]!), on(servers[1]!)]);
    await servers[1]!.kill('SIGKILL');
    expect(await redis.shardNumSub(channelOf(b))).toEqual([0]);
    expect(errorCode(await a.signal(b.nodeId))).toBe('ERR_UNKNOWN_PEER');
  });

  it('registers locally while Redis is away, and puts Redis right when it is back', async () => {
    const { redis, servers, on } = await cluster();
    const [a, leaving] = await Promise.all([on(servers[0]!), on(servers[2]!)]);
    await redis.kill();
    const started = Date.now();
    const late = await on(servers[1]!);
    expect(Date.now() - started).toBeLessThan(CLUSTER_REQUEST_TIMEOUT_MS);
    leaving.close();
    expect(errorCode(await a.signal(late.nodeId))).toBe('ERR_CLUSTER_UNAVAILABLE');

    const back = await Redis.start(redis.port);
    processes.push(back);
    // The servers reconnect with backoff, at most 2 s apart; the subscription made during the outage
    // is made again, and the one for the node that left meanwhile is dropped.
    await until(async () => expect(await a.signal(late.nodeId, 'after')).toEqual({ ok: true }));
    await until(() => expect(late.texts()).toContain('after'));
    await until(async () => expect(await back.shardNumSub(channelOf(a), channelOf(late), channelOf(leaving))).toEqual([1, 1, 0]));
    expect(errorCode(await a.signal(leaving.nodeId))).toBe('ERR_UNKNOWN_PEER');
  });
});

describe('a Redis without sharded pub/sub (before 7)', () => {
  it('is refused at startup with ERR_REDIS_UNAVAILABLE', async () => {
    // Answers every command the way Redis 6 answers PUBSUB SHARDNUMSUB.
    const sockets = new Set<Socket>();
    const fake = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', (chunk) => {
        for (const _ of chunk.toString().matchAll(/(?:^|\r\n)\*\d+\r\n/g)) socket.write("-ERR unknown subcommand 'SHARDNUMSUB'. Try PUBSUB HELP.\r\n");
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const { port } = fake.address() as { port: number };
    try {
      await expect(createSignalingServer({ redis: `redis://127.0.0.1:${port}` })).rejects.toMatchObject({
        code: 'ERR_REDIS_UNAVAILABLE',
        message: expect.stringMatching(/lacks sharded pub\/sub.*Redis 7 or later/),
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => fake.close(resolve));
    }
  });
});
