import { afterEach, describe, expect, it } from 'vitest';
import type { P2PNode } from '../src/index.js';
import { Harness, next } from './helpers.js';
import { maliciousServer } from './support/maliciousServer.js';

/** What a relay saw of the signals between the nodes: each envelope's kind, and whether its payload was encrypted. */
const kinds = (seen: { kind: string; data: string }[]) => seen.map((e) => `${e.kind}${e.data.startsWith('e1.') ? ':e2e' : ''}`);

async function talk(from: P2PNode, to: P2PNode): Promise<void> {
  const got = next(to.data$);
  await from.send(to.nodeId, 'hi');
  expect((await got).data).toBe('hi');
}

describe('encryption between old and new nodes and servers (docs/protocol.md §16.3)', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('new nodes encrypt to each other; a node from before encryption is reached plainly, in both directions', async () => {
    const server = await maliciousServer((e) => [e]);
    h.defer(server.close);
    const a = await h.started(server.url);
    const old = await h.started(server.url, { encryption: 'off' });
    const c = await h.started(server.url);
    // New to old: the hello goes unanswered (an old node drops the kind), then the signals go plain.
    await a.connectToNode(old.nodeId);
    await talk(a, old);
    expect(kinds(server.seen.filter((e) => e.from === a.nodeId)).slice(0, 2)).toEqual(['hello', 'offer']);
    // Old to new: a plain offer, a plain answer (the old node never showed it decrypts).
    const before = server.seen.length;
    await old.connectToNode(c.nodeId);
    await talk(c, old);
    expect(kinds(server.seen.slice(before)).filter((k) => k.startsWith('offer') || k.startsWith('answer'))).toEqual(['offer', 'answer']);
    // New to new: encrypted after one hello each way.
    const mark = server.seen.length;
    await a.connectToNode(c.nodeId);
    await talk(a, c);
    const between = kinds(server.seen.slice(mark));
    expect(between.slice(0, 2)).toEqual(['hello', 'hello']);
    expect(between.slice(2).every((k) => k.endsWith(':e2e'))).toBe(true);
  });

  it('behind a server from before encryption (it refuses hellos), new nodes talk plainly at once', async () => {
    const server = await maliciousServer((e) => [e], () => ({}), (e) => (e.kind === 'hello' ? { code: 'ERR_BAD_REQUEST', message: 'signal expects { to, envelope } with a well-formed envelope' } : undefined));
    h.defer(server.close);
    const a = await h.started(server.url);
    const b = await h.started(server.url);
    await a.connectToNode(b.nodeId);
    await talk(a, b);
    expect(kinds(server.seen).every((k) => !k.endsWith(':e2e'))).toBe(true);
  });

  it("a node that requires encryption neither sends to nor takes from a node that does not decrypt", async () => {
    const server = await h.server();
    const strict = await h.started(server.url, { encryption: 'required', timeouts: { offer: 3000 } });
    const old = await h.started(server.url, { encryption: 'off', timeouts: { offer: 3000 } });
    await expect(strict.connectToNode(old.nodeId)).rejects.toThrow(/ERR_UNKNOWN_PEER/);
    await expect(old.connectToNode(strict.nodeId)).rejects.toMatchObject({ code: 'ERR_CONNECT_TIMEOUT' });
    expect(strict.peers()).toEqual([]);
  });
});
