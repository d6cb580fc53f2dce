/**
 * Three signaling server processes joined through a real redis-server, and real nodes spread over
 * them connecting pairwise with real WebRTC: cross-server signaling, a cluster-wide registry, a
 * server killed under its nodes, and Redis lost and back.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity, type P2PNode } from '../../src/index.js';
import { Harness, next } from '../helpers.js';
import { Redis, SignalingProcess } from './processes.js';

const FAST = { backoff: { initialMs: 50, maxMs: 500 }, timeouts: { offer: 5000 } };

describe('a signaling cluster of three server processes on one Redis', () => {
  const h = new Harness();
  const processes: { kill(): Promise<void> }[] = [];
  afterEach(async () => {
    await h.cleanup();
    await Promise.all(processes.splice(0).map((p) => p.kill()));
  });

  async function cluster() {
    const redis = await Redis.start();
    processes.push(redis);
    const servers = await Promise.all([0, 1, 2].map(() => SignalingProcess.start(redis.url)));
    processes.push(...servers);
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
