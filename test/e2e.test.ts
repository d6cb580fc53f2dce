import { afterEach, describe, expect, it } from 'vitest';
import { Harness, next } from './helpers.js';

describe('two nodes on a real signaling server and real WebRTC', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('connect and exchange strings and binary both ways', async () => {
    const server = await h.server();
    const a = await h.started(server.url);
    const b = await h.started(server.url);
    await a.connectToNode(b.nodeId);
    const atB = next(b.data$);
    await a.send(b.nodeId, 'hello b');
    expect(await atB).toEqual({ from: a.nodeId, data: 'hello b' });
    const atA = next(a.data$);
    await b.send(a.nodeId, new Uint8Array([1, 2, 3]));
    const got = await atA;
    expect(got.from).toBe(b.nodeId);
    expect(got.data).toBeInstanceOf(Uint8Array);
    expect([...(got.data as Uint8Array)]).toEqual([1, 2, 3]);
    const [peer] = a.peers();
    expect(peer).toMatchObject({ id: b.nodeId, state: 'connected', route: 'host' });
  });
});
