import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createSignalingServer, generateIdentity, P2PError, type P2PNode } from '../src/index.js';
import { parseCandidate, sdpCandidates } from '../src/webrtc/candidates.js';
import { Harness, collect, next } from './helpers.js';
import { maliciousServer, payloadFor } from './support/maliciousServer.js';

describe('nodes on a real signaling server and real WebRTC', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('connect and exchange strings and binary both ways', async () => {
    const { a, b } = await h.connectedPair();
    const atB = next(b.data$);
    await a.send(b.nodeId, 'hello b');
    expect(await atB).toEqual({ from: a.nodeId, data: 'hello b' });
    const atA = next(a.data$);
    await b.send(a.nodeId, new Uint8Array([1, 2, 3]));
    const got = await atA;
    expect(got.from).toBe(b.nodeId);
    expect(got.data).toBeInstanceOf(Uint8Array);
    expect([...(got.data as Uint8Array)]).toEqual([1, 2, 3]);
    expect(a.peers()).toEqual([
      expect.objectContaining({ id: b.nodeId, state: 'connected', route: 'host', bytesOut: 7, bytesIn: 3 }),
    ]);
    // Only loopback candidates are signaled, yet libwebrtc may bind either end's socket to another
    // address of this host (seen: [fd00::2]); packets stay on the machine. The far end then shows up
    // as peer-reflexive, whose address libwebrtc redacts.
    const { localAddress, remoteAddress } = a.peers()[0]!;
    expect(localAddress).toMatch(/^(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]):\d+$/);
    if (remoteAddress !== undefined) expect(remoteAddress).toMatch(/^(127\.0\.0\.1|\[::1\]):\d+$/);
  });

  it('report every peer transition, initiator and responder, in order', async () => {
    const server = await h.server();
    const a = await h.started(server.url);
    const b = await h.started(server.url);
    const seen = collect(a.transitions$, 4, (t) => t.actor === `peer.${b.nodeId}`);
    const seenB = collect(b.transitions$, 4, (t) => t.actor === `peer.${a.nodeId}`);
    await a.connectToNode(b.nodeId);
    expect((await seen).map((t) => `${t.from}→${t.to}`)).toEqual(['→offering', 'offering→connecting', 'connecting→verifying', 'verifying→connected']);
    expect((await seenB).map((t) => t.to)).toEqual(['answering', 'connecting', 'verifying', 'connected']);
  });

  it('announce connections and their ends, with the reason, on peerEvents$', async () => {
    const server = await h.server();
    const a = await h.started(server.url, { timeouts: { offer: 500 } });
    const b = await h.started(server.url);
    const events: unknown[] = [];
    a.peerEvents$.subscribe((e) => events.push(e));
    await a.connectToNode(b.nodeId);
    await a.disconnect(b.nodeId);
    const ghost = 'b'.repeat(64);
    await expect(a.connectToNode(ghost)).rejects.toMatchObject({ code: 'ERR_PEER_REJECTED' });
    expect(events).toEqual([
      { type: 'connected', id: b.nodeId, route: expect.objectContaining({ route: 'host' }) },
      { type: 'closed', id: b.nodeId, reason: 'closed', detail: undefined, wasConnected: true },
      { type: 'closed', id: ghost, reason: 'rejected', detail: expect.stringContaining('ERR_UNKNOWN_PEER'), wasConnected: false },
    ]);
  });

  it('form a triangle, and sendData reaches every connected peer', async () => {
    const server = await h.server();
    const [a, b, c] = await Promise.all([h.started(server.url), h.started(server.url), h.started(server.url)]);
    await Promise.all([a.connectToNode(b.nodeId), b.connectToNode(c.nodeId), c.connectToNode(a.nodeId)]);
    const bothConnected = (peers: { state: string }[]) => peers.length === 2 && peers.every((p) => p.state === 'connected');
    await Promise.all([a, b, c].map((node) => next(node.peers$, bothConnected)));
    const atB = next(b.data$, (m) => m.from === a.nodeId);
    const atC = next(c.data$, (m) => m.from === a.nodeId);
    await a.sendData('to all');
    expect((await atB).data).toBe('to all');
    expect((await atC).data).toBe('to all');
    const cToB = next(b.data$, (m) => m.from === c.nodeId);
    await c.send(b.nodeId, 'c to b');
    expect((await cToB).data).toBe('c to b');
  });

  it('resolve glare on real components: both connect at once, one connection survives', async () => {
    const server = await h.server();
    const a = await h.started(server.url);
    const b = await h.started(server.url);
    const [small, large] = a.nodeId < b.nodeId ? [a, b] : [b, a];
    const gaveWay = next(large.transitions$, (t) => t.from === 'offering' && t.to === 'answering');
    await Promise.all([a.connectToNode(b.nodeId), b.connectToNode(a.nodeId)]);
    expect(a.peers()).toHaveLength(1);
    expect(b.peers()).toHaveLength(1);
    // Both offers usually cross in flight; when they do, the larger id must be the one that gives way.
    const crossed = await gaveWay.then(() => true, () => false);
    if (crossed) expect(small.peers()[0]?.state).toBe('connected');
    const got = next(a.data$);
    await b.send(a.nodeId, 'after glare');
    expect((await got).data).toBe('after glare');
  });

  it('close from either side: both ends forget the peer', async () => {
    const { a, b } = await h.connectedPair();
    const bEmpty = next(b.peers$, (p) => p.length === 0);
    await a.disconnect(b.nodeId);
    await bEmpty;
    expect(a.peers()).toEqual([]);
    await b.connectToNode(a.nodeId);
    const aEmpty = next(a.peers$, (p) => p.length === 0);
    await b.disconnect(a.nodeId);
    await aEmpty;
    await expect(a.send(b.nodeId, 'x')).rejects.toMatchObject({ code: 'ERR_NOT_CONNECTED' });
  });

  it('keep data flowing both ways after the signaling server is gone', async () => {
    const { server, a, b } = await h.connectedPair();
    const offline = next(a.transitions$, (t) => t.actor === 'node' && t.to === 'running.offline');
    await server.close();
    await offline;
    for (let i = 0; i < 5; i++) {
      const atB = next(b.data$);
      await a.send(b.nodeId, `ping ${i}`);
      expect((await atB).data).toBe(`ping ${i}`);
      const atA = next(a.data$);
      await b.send(a.nodeId, `pong ${i}`);
      expect((await atA).data).toBe(`pong ${i}`);
    }
    expect(a.peers()[0]?.state).toBe('connected');
  });

  it('re-register after the signaling server comes back, and connect through it again', async () => {
    const first = await createSignalingServer({ port: 0 });
    const { port } = first;
    const url = first.url;
    const options = { backoff: { initialMs: 50, maxMs: 200 } };
    const a = await h.started(url, options);
    const b = await h.started(url, options);
    const aBack = next(a.transitions$, (t) => t.actor === 'node' && t.from === 'running.offline' && t.to === 'running.online', 15_000);
    const bBack = next(b.transitions$, (t) => t.actor === 'node' && t.from === 'running.offline' && t.to === 'running.online', 15_000);
    await first.close();
    const second = await createSignalingServer({ port });
    h.servers.push(second);
    await Promise.all([aBack, bBack]);
    await a.connectToNode(b.nodeId);
    expect(a.peers()[0]?.state).toBe('connected');
  });

  it('fail over to the next listed server when theirs dies, keeping their data channel open', async () => {
    const [first, second] = [await h.server(), await h.server()];
    const options = { backoff: { initialMs: 50, maxMs: 200 } };
    const a = await h.started([first.url, second.url], options);
    const b = await h.started([first.url, second.url], options);
    await a.connectToNode(b.nodeId);
    const back = [a, b].map((n) => next(n.transitions$, (t) => t.actor === 'node' && t.from === 'running.offline' && t.to === 'running.online', 15_000));
    await first.close();
    await Promise.all(back);
    // Registered on the second server now: a node that only knows that one reaches them.
    const c = await h.started(second.url);
    const cAtA = next(a.peerEvents$, (e) => e.type === 'connected' && e.id === c.nodeId);
    await c.connectToNode(a.nodeId);
    await cAtA;
    const atB = next(b.data$);
    await a.send(b.nodeId, 'still here');
    expect(await atB).toEqual({ from: a.nodeId, data: 'still here' });
    expect(a.peers().map((p) => p.state)).toEqual(['connected', 'connected']);
  });

  it('send the first candidates inside the offer and the answer, so ICE starts with them, and no address in the clear', async () => {
    const server = await maliciousServer((envelope) => [envelope]);
    h.defer(server.close);
    const [aKey, bKey] = [generateIdentity(), generateIdentity()];
    const a = await h.started(server.url, { identity: aKey });
    const b = await h.started(server.url, { identity: bKey });
    await a.connectToNode(b.nodeId);
    const recipient = (e: { to: string }) => (e.to === a.nodeId ? aKey : bKey);
    // The server sees a hello each way, then only ciphertext: no SDP, no candidate, no address.
    expect(server.seen.slice(0, 2).map((e) => e.kind)).toEqual(['hello', 'hello']);
    for (const e of server.seen.slice(2)) expect(e.data).toMatch(/^e1\.[A-Za-z0-9_-]+$/);
    expect(server.seen.some((e) => e.data.includes('127.0.0.1'))).toBe(false);
    const sdps = server.seen.filter((e) => e.kind === 'offer' || e.kind === 'answer');
    expect(sdps.map((e) => e.kind)).toEqual(['offer', 'answer']);
    for (const e of sdps) expect((payloadFor(recipient(e), e) as { sdp: string }).sdp).toMatch(/\r\na=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/);
    // Each candidate reaches the peer once: those already in the SDP are not trickled again.
    for (const sender of [a.nodeId, b.nodeId]) {
      const lines = server.seen
        .filter((e) => e.from === sender && e.kind !== 'hello')
        .flatMap((e) => {
          const data = payloadFor(recipient(e), e) as { sdp?: string; candidate?: { candidate: string } };
          return data.sdp ? sdpCandidates(data.sdp) : data.candidate ? [data.candidate.candidate] : [];
        });
      expect(lines.length).toBeGreaterThan(0);
      const endpoints = lines.map((line) => {
        const c = parseCandidate(line)!;
        return `${c.protocol} ${c.address}:${c.port} ${c.type}`;
      });
      expect(new Set(endpoints).size).toBe(lines.length);
    }
  });

  it('replay the current supervisor snapshot to new state$ subscribers', async () => {
    const server = await h.server();
    const a = await h.started(server.url);
    const snapshot = await next(a.state$);
    expect(snapshot.value).toEqual({ running: 'online' });
  });
});

describe('TURN credentials issued by the signaling server', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  /** The ICE servers `node`'s actor for `peerId` was spawned with. */
  async function peerIceServers(node: P2PNode, peerId: string) {
    const snapshot = await next(node.state$);
    return snapshot.context.peers[peerId]!.getSnapshot().context.transport.iceServers;
  }

  it('reach every peer a node spawns, after its own ICE servers, each node with its own', async () => {
    // Nothing listens there: the relay is never needed on loopback, only handed over.
    const turn = { urls: ['turn:127.0.0.1:9'], secret: 'lab secret', ttlSeconds: 600 };
    const server = await h.server({ turn });
    const stun = { urls: 'stun:127.0.0.1:9' };
    const a = await h.started(server.url, { iceServers: [stun] });
    const b = await h.started(server.url);
    await a.connectToNode(b.nodeId);

    const [aStun, aTurn] = await peerIceServers(a, b.nodeId);
    expect(aStun).toEqual(stun);
    const [bTurn, ...rest] = await peerIceServers(b, a.nodeId);
    expect(rest).toEqual([]);
    for (const [grant, node] of [[aTurn, a], [bTurn, b]] as const) {
      expect(grant).toEqual({ urls: turn.urls, username: expect.stringMatching(`^\\d+:${node.nodeId}$`), credential: expect.any(String) });
      expect(grant!.credential).toBe(createHmac('sha1', turn.secret).update(grant!.username!).digest('base64'));
    }
  });
});

describe('API errors carry codes and leave the node working', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('rejects bad calls with typed errors', async () => {
    const server = await h.server();
    const idle = h.node(server.url);
    await expect(idle.connectToNode('a'.repeat(64))).rejects.toMatchObject({ code: 'ERR_NOT_STARTED' });
    const a = await h.started(server.url, { maxMessageSize: 1024 });
    const b = await h.started(server.url);
    await expect(a.connectToNode('nope')).rejects.toMatchObject({ code: 'ERR_INVALID_NODE_ID' });
    await expect(a.connectToNode(a.nodeId)).rejects.toMatchObject({ code: 'ERR_SELF_CONNECT' });
    await expect(a.sendData('x')).rejects.toMatchObject({ code: 'ERR_NO_PEERS' });
    await expect(a.connectToNode('e'.repeat(64))).rejects.toMatchObject({ code: 'ERR_PEER_REJECTED' });
    await a.connectToNode(b.nodeId);
    await expect(a.send(b.nodeId, new Uint8Array(1025))).rejects.toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE' });
    await expect(a.send(b.nodeId, 42 as unknown as string)).rejects.toMatchObject({ code: 'ERR_INVALID_DATA' });
    const ok = next(b.data$);
    await a.send(b.nodeId, 'still fine');
    expect((await ok).data).toBe('still fine');
    await a.stop();
    await expect(a.connectToNode(b.nodeId)).rejects.toMatchObject({ code: 'ERR_STOPPED' });
    await expect(a.start()).resolves.toBeUndefined(); // start() after a successful start returns the same promise
  });

  it('rejects invalid options at creation', () => {
    expect(() => h.node('not a url')).toThrow(P2PError);
    expect(() => h.node('http://127.0.0.1:1', { timeouts: { offer: -1 } })).toThrowError(/timeouts.offer/);
    expect(() => h.node('http://127.0.0.1:1', { maxPeers: 0 })).toThrowError(/maxPeers/);
    expect(() => h.node('http://127.0.0.1:1', { maxMessageSize: 2 ** 40 })).toThrowError(/maxMessageSize/);
    expect(() => h.node('http://127.0.0.1:1', { backoff: { initialMs: 0 } })).toThrowError(/backoff/);
    expect(() => h.node('http://127.0.0.1:1', { iceServers: [{}] as never })).toThrowError(/iceServers/);
    expect(() => h.node('http://127.0.0.1:1', { candidateFilter: 'loopback' as never })).toThrowError(/candidateFilter/);
  });

  it('fails start() with ERR_SIGNALING_UNREACHABLE when no server answers', async () => {
    const server = await createSignalingServer({ port: 0 });
    const url = server.url;
    await server.close();
    const node = h.node(url, { signalingAttempts: 2, backoff: { initialMs: 10 }, timeouts: { signalingConnect: 1000 } });
    await expect(node.start()).rejects.toMatchObject({ code: 'ERR_SIGNALING_UNREACHABLE' });
  });

  it('caps peers per node with ERR_TOO_MANY_PEERS', async () => {
    const server = await h.server();
    const a = await h.started(server.url, { maxPeers: 1 });
    const [b, c] = await Promise.all([h.started(server.url), h.started(server.url)]);
    await a.connectToNode(b.nodeId);
    await expect(a.connectToNode(c.nodeId)).rejects.toMatchObject({ code: 'ERR_TOO_MANY_PEERS' });
    await expect(c.connectToNode(a.nodeId)).rejects.toMatchObject({ code: 'ERR_PEER_REJECTED' });
    expect(a.peers().map((p) => p.id)).toEqual([b.nodeId]);
  });

  it('aborts a connection attempt through an AbortSignal', async () => {
    const server = await h.server();
    const a = await h.started(server.url);
    const controller = new AbortController();
    const attempt = a.connectToNode('d'.repeat(64), { signal: controller.signal });
    controller.abort(new Error('user gave up'));
    await expect(attempt).rejects.toThrow('user gave up');
  });
});

describe('stopping a node', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('rejects attempts still under way with ERR_STOPPED and releases everything', async () => {
    const server = await h.server();
    const a = await h.started(server.url);
    const pending = a.connectToNode('c'.repeat(64));
    await a.stop();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_STOPPED' });
    await expect(a.stop()).resolves.toBeUndefined();
  });

  it('a node whose id another session took over keeps its peers, and new attempts fail at once', async () => {
    const server = await h.server();
    const identity = generateIdentity();
    const [a, b, c] = await Promise.all([h.started(server.url, { identity }), h.started(server.url), h.started(server.url)]);
    await a.connectToNode(b.nodeId);
    const takenOver = next(a.state$, (s) => s.matches({ running: 'signalingFailed' }));
    await h.started(server.url, { identity });
    await takenOver;
    await expect(a.connectToNode(c.nodeId)).rejects.toMatchObject({ code: 'ERR_SIGNALING_REJECTED' });
    const atB = next(b.data$);
    await a.send(b.nodeId, 'still here');
    expect((await atB).data).toBe('still here');
  });
});
