import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { InspectionLog } from '../src/inspector/inspectionLog.js';
import { startInspectorServer, type InspectorServer } from '../src/inspector/inspectorServer.js';
import { Harness, next } from './helpers.js';
import { InspectorStream } from './support/sse.js';
import { World } from './support/world.js';

const connectedWorld = (log: InspectionLog) => World.connectedPair((event) => log.inspect(event));

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject).end();
  });
}

describe('inspection log', () => {
  it('keeps the actor tree, each actor state, and the events in order', () => {
    const log = new InspectionLog();
    const { a, b } = connectedWorld(log);
    const { actors, log: entries } = log.snapshot();
    const peer = actors.find((x) => x.name === `peer.${b}`)!;
    expect(peer).toMatchObject({ machine: 'peer', state: 'connected', status: 'active', active: ['peer.connected'] });
    expect(actors.find((x) => x.name === `peer.${a}`)).toMatchObject({ state: 'connected' });
    expect(actors.filter((x) => x.machine === 'signaling').map((x) => x.state)).toEqual(['online.registered', 'online.registered']);
    // The peer's parent is its supervisor, and its states arrive in the order they happened.
    const supervisor = actors.find((x) => x.key === peer.parent);
    expect(supervisor).toMatchObject({ machine: 'node', state: 'running.online', active: ['node.running', 'node.running.online'] });
    const path = entries.filter((e) => e.actor === `peer.${b}` && e.from !== e.to).map((e) => `${e.from}→${e.to}`);
    expect(path).toEqual(['→offering', 'offering→connecting', 'connecting→verifying', 'verifying→connected']);
    expect(entries.map((e) => e.seq)).toEqual([...entries.keys()].map((i) => i + 1));
  });

  it('keeps ended peers with their reason until cleared', () => {
    const log = new InspectionLog();
    const { world, a, b } = connectedWorld(log);
    world.actor(a).send({ type: 'DISCONNECT', peerId: b });
    world.flush();
    const ended = () => log.snapshot().actors.filter((x) => x.status !== 'active');
    expect(ended().map((x) => [x.name, x.state, x.reason])).toEqual(
      expect.arrayContaining([
        [`peer.${b}`, 'closed', 'closed'],
        [`peer.${a}`, 'closed', 'closed'],
      ]),
    );
    const removed: string[][] = [];
    log.updates.subscribe((u) => u.type === 'removed' && removed.push(u.keys));
    log.clearEnded();
    expect(ended()).toEqual([]);
    expect(removed.flat()).toHaveLength(2);
  });

  it('caps the log and the ended actors it keeps', () => {
    const log = new InspectionLog({ logSize: 10, endedActors: 1 });
    const { world, a, b } = connectedWorld(log);
    world.actor(a).send({ type: 'DISCONNECT', peerId: b });
    world.flush();
    const { actors, log: entries } = log.snapshot();
    expect(entries).toHaveLength(10);
    expect(entries.at(-1)!.seq).toBeGreaterThan(10);
    expect(actors.filter((x) => x.status !== 'active')).toHaveLength(1);
  });
});

describe('inspector server', () => {
  let server: InspectorServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('serves the page, streams the log, and answers only to loopback names', async () => {
    const log = new InspectionLog();
    server = await startInspectorServer({ port: 0, log, charts: { node: '<svg data-chart="node"></svg>' } });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get(server.url);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>p2p-node inspector</title>');
    expect(page.body).not.toMatch(/(src|href)="https?:/); // nothing fetched from elsewhere
    expect((await get(server.url, { host: 'attacker.example:80' })).status).toBe(403);
    expect((await get(new URL('/nope', server.url).href)).status).toBe(404);

    const stream = await InspectorStream.open(server.url);
    expect(stream.hello).toEqual({ charts: { node: '<svg data-chart="node"></svg>' }, actors: [], log: [] });
    const { b } = connectedWorld(log);
    await stream.until(() => stream.byName(`peer.${b}`)?.state === 'connected');
    expect(stream.log.map((e) => e.seq)).toEqual(log.snapshot().log.map((e) => e.seq));
    stream.close();
  });

  it('clears ended actors only on a POST carrying its header', async () => {
    const log = new InspectionLog();
    const { world, a, b } = connectedWorld(log);
    world.actor(a).send({ type: 'DISCONNECT', peerId: b });
    world.flush();
    server = await startInspectorServer({ port: 0, log, charts: {} });
    const clear = new URL('/clear', server.url).href;
    expect((await get(clear, {}, 'POST')).status).toBe(404);
    expect(log.snapshot().actors.some((x) => x.status === 'done')).toBe(true);
    expect((await get(clear, { 'x-inspector': '1' }, 'POST')).status).toBe(204);
    expect(log.snapshot().actors.some((x) => x.status === 'done')).toBe(false);
  });

  it('refuses a port in use with ERR_INSPECTOR', async () => {
    server = await startInspectorServer({ port: 0, log: new InspectionLog(), charts: {} });
    const port = Number(new URL(server.url).port);
    await expect(startInspectorServer({ port, log: new InspectionLog(), charts: {} })).rejects.toMatchObject({
      code: 'ERR_INSPECTOR',
      message: expect.stringContaining('EADDRINUSE'),
    });
  });
});

describe('a node with inspect.port, on real WebRTC', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('streams its actors from the first transition, peers with their close reason, and closes with the node', async () => {
    const server = await h.server();
    const a = await h.started(server.url, { inspect: { port: 0 } });
    const b = await h.started(server.url);
    const stream = await InspectorStream.open(a.inspectorUrl!);
    expect(Object.keys(stream.hello!.charts).sort()).toEqual(['dht', 'node', 'peer', 'signaling']);
    expect(stream.hello!.log[0]).toMatchObject({ actor: 'node', from: '', to: 'idle' });
    // b may still be verifying when a's connectToNode resolves; stopped then, it would not end the stream.
    const bConnected = next(b.peerEvents$, (e) => e.type === 'connected');
    await a.connectToNode(b.nodeId);
    await stream.until(() => stream.byName(`peer.${b.nodeId}`)?.state === 'connected');
    await bConnected;
    await b.stop();
    await stream.until(() => stream.byName(`peer.${b.nodeId}`)?.status === 'done');
    expect(stream.byName(`peer.${b.nodeId}`)).toMatchObject({ state: 'closed', reason: 'closed' });
    const states = stream.log.filter((e) => e.actor === `peer.${b.nodeId}` && e.from !== e.to).map((e) => e.to);
    expect(states).toEqual(['offering', 'connecting', 'verifying', 'connected', 'closing', 'closed']);
    stream.close();
    const url = a.inspectorUrl!;
    await a.stop();
    await expect(fetch(url)).rejects.toThrow();
  });

  it('refuses an invalid inspect.port as ERR_INVALID_OPTION', () => {
    expect(() => h.node('http://127.0.0.1:1', { inspect: { port: 70_000 } })).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }) as Error,
    );
  });
});
