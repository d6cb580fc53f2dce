import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity, type Logger, type NodeOptions, type P2PNode } from '../src/index.js';
import { Envelopes, newSessionId } from '../src/wire/envelope.js';
import { envelopeMessage, type Envelope } from '../src/wire/protocol.js';
import { Harness, next } from './helpers.js';
import { maliciousServer, payloadFor, type Tamper } from './support/maliciousServer.js';

const FAST = { timeouts: { offer: 1500, answer: 1500, ice: 3000 } };

/** The SDP with its DTLS fingerprint reversed. */
function rewriteFingerprint<T extends { sdp: string }>(data: T): T {
  return { ...data, sdp: data.sdp.replace(/a=fingerprint:sha-256 ([0-9A-F:]+)/g, (_, fp: string) => `a=fingerprint:sha-256 ${fp.split(':').reverse().join(':')}`) };
}

/** An offer or answer with its payload changed: the fingerprint of a plain one, one ciphertext character of an encrypted one. */
function rewritePayload(envelope: Envelope): Envelope {
  if (envelope.kind !== 'offer' && envelope.kind !== 'answer') return envelope;
  if (!envelope.data.startsWith('{')) {
    const at = envelope.data.length >> 1;
    return { ...envelope, data: envelope.data.slice(0, at) + (envelope.data[at] === 'A' ? 'B' : 'A') + envelope.data.slice(at + 1) };
  }
  return { ...envelope, data: JSON.stringify(rewriteFingerprint(JSON.parse(envelope.data) as { sdp: string })) };
}

function resign(envelope: Omit<Envelope, 'sig'>, signer = generateIdentity()): Envelope {
  return { ...envelope, sig: Buffer.from(signer.sign(envelopeMessage(envelope))).toString('base64url') };
}

describe('a malicious signaling server', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  async function through(tamper: Tamper, encryption: NodeOptions['encryption'] = 'preferred') {
    const server = await maliciousServer(tamper);
    h.defer(server.close);
    const a = await h.started(server.url, { ...FAST, encryption });
    const b = await h.started(server.url, { ...FAST, encryption });
    const bTransitions: string[] = [];
    b.transitions$.subscribe((t) => bTransitions.push(`${t.actor}:${t.to}`));
    return { server, a, b, bTransitions };
  }

  const noPeerActor = (transitions: string[]) => transitions.filter((t) => t.startsWith('peer.'));

  it.each(['preferred', 'off'] as const)('cannot rewrite the payload (encryption %s): the receiver drops it and no connection forms', async (encryption) => {
    const { a, b, bTransitions } = await through((e) => [rewritePayload(e)], encryption);
    await expect(a.connectToNode(b.nodeId)).rejects.toMatchObject({ code: 'ERR_CONNECT_TIMEOUT' });
    expect(noPeerActor(bTransitions)).toEqual([]);
    expect(b.peers()).toEqual([]);
  });

  it.each(['preferred', 'off'] as const)('cannot re-sign a tampered payload under the sender id with its own key (encryption %s)', async (encryption) => {
    const mallory = generateIdentity();
    const { a, b, bTransitions } = await through((e) => {
      const { sig: _, ...rest } = rewritePayload(e);
      return [resign({ ...rest, key: mallory.publicKey }, mallory)];
    }, encryption);
    await expect(a.connectToNode(b.nodeId)).rejects.toMatchObject({ code: 'ERR_CONNECT_TIMEOUT' });
    expect(noPeerActor(bTransitions)).toEqual([]);
  });

  it('cannot replay: duplicated signals are dropped and exactly one connection forms', async () => {
    const { a, b, bTransitions } = await through((e) => [e, e, e]);
    await a.connectToNode(b.nodeId);
    expect(noPeerActor(bTransitions).filter((t) => t.endsWith(':answering'))).toHaveLength(1);
    const got = next(b.data$);
    await a.send(b.nodeId, 'once');
    expect((await got).data).toBe('once');
  });

  it('cannot replay an old offer to reopen a closed session', async () => {
    const { server, a, b, bTransitions } = await through((e) => [e]);
    await a.connectToNode(b.nodeId);
    await a.disconnect(b.nodeId);
    await next(b.peers$, (peers) => peers.length === 0);
    const oldOffer = server.seen.find((e) => e.kind === 'offer' && e.to === b.nodeId)!;
    const before = noPeerActor(bTransitions).length;
    server.inject(b.nodeId, oldOffer);
    await new Promise((r) => setTimeout(r, 300));
    expect(noPeerActor(bTransitions)).toHaveLength(before);
    expect(b.peers()).toEqual([]);
  });

  it("cannot speak as another node: offers claiming A's id but signed by someone else are dropped", async () => {
    const { server, a, b, bTransitions } = await through((e) => [e]);
    const mallory = generateIdentity();
    const forged = new Envelopes(mallory).seal(b.nodeId, newSessionId(), { type: 'offer', sdp: 'v=0\r\n' });
    server.inject(b.nodeId, { ...forged, from: a.nodeId }); // claims A's id with Mallory's key
    const { sig: _, ...unsigned } = forged;
    server.inject(b.nodeId, resign({ ...unsigned, from: a.nodeId, key: generateIdentity().publicKey }, mallory));
    await new Promise((r) => setTimeout(r, 300));
    expect(noPeerActor(bTransitions)).toEqual([]);
  });

  it("cannot tear down a live connection with forged, replayed or malformed signals", async () => {
    const { server, a, b } = await through((e) => [e]);
    await a.connectToNode(b.nodeId);
    const session = server.seen.find((e) => e.kind === 'offer')!.session;
    const mallory = generateIdentity();
    const forgedBye = new Envelopes(mallory).seal(a.nodeId, session, { type: 'reject', code: 'closed' });
    const ownKeyBye = new Envelopes(mallory).seal(a.nodeId, newSessionId(), { type: 'offer', sdp: 'v=0\r\n' });
    const replayed = server.seen.filter((e) => e.to === a.nodeId);
    for (const envelope of [...replayed, { ...forgedBye, from: b.nodeId }, { ...forgedBye, seq: -1 }, ownKeyBye]) {
      server.inject(a.nodeId, envelope);
    }
    const junk: unknown[] = [null, 42, 'x', [], { from: b.nodeId }, { from: b.nodeId, envelope: null }, { from: b.nodeId, envelope: { v: 1 } }];
    for (const garbage of junk) server.deliverRaw(a.nodeId, garbage);
    await new Promise((r) => setTimeout(r, 300));
    expect(a.peers().find((p) => p.id === b.nodeId)?.state).toBe('connected');
    const got = next(b.data$);
    await a.send(b.nodeId, 'still here');
    expect((await got).data).toBe('still here');
  });
});

describe('a signaling server that hands out malformed TURN servers', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  function recordingLogger(warnings: string[]): Logger {
    const logger: Logger = { debug: () => {}, info: () => {}, warn: (_, msg) => warnings.push(msg ?? ''), error: () => {}, child: () => logger };
    return logger;
  }

  it('is ignored with a warning: nodes still register and connect, with no relay from it', async () => {
    const grant = { urls: ['turn:127.0.0.1:9'], username: '1:u', credential: 'p' };
    const malformed: unknown[] = [
      // Port 0 would make libwebrtc refuse every connection of the node.
      [{ ...grant, urls: ['turn:127.0.0.1:0'] }],
      'turn:127.0.0.1:9',
      Array.from({ length: 5 }, () => grant),
      [{ ...grant, credential: 'x'.repeat(100_000) }],
      null,
    ];
    let registrations = 0;
    const server = await maliciousServer((e) => [e], () => ({ iceServers: malformed[registrations++ % malformed.length] }));
    h.defer(server.close);
    const warnings: string[] = [];
    const nodes = await Promise.all(malformed.map(() => h.started(server.url, { ...FAST, logger: recordingLogger(warnings) })));
    expect(warnings.filter((w) => w === 'ignoring malformed iceServers in the register ack')).toHaveLength(malformed.length);

    const [a, b] = nodes as [P2PNode, P2PNode];
    await a.connectToNode(b.nodeId);
    const peer = (await next(a.state$)).context.peers[b.nodeId]!;
    expect(peer.getSnapshot().context.transport.iceServers).toEqual([]);
  });
});

describe('a malicious peer', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('whose signed SDP commits to another certificate cannot complete DTLS, so no data ever flows', async () => {
    // B's answers carry a fingerprint that is not its certificate's, properly signed with B's own key:
    // libwebrtc refuses that DTLS handshake, and the verify step would refuse it too.
    const [aKeys, bKeys] = [generateIdentity(), generateIdentity()];
    const bEnvelopes = new Envelopes(bKeys);
    bEnvelopes.keys.learn(aKeys.nodeId, aKeys.publicKey, true);
    const server = await maliciousServer((e) => {
      if (e.kind !== 'answer') return [e];
      // Read as A would, then sealed anew by B's key (encrypted to A again).
      const data = payloadFor(aKeys, e) as { type: 'answer'; sdp: string };
      return [bEnvelopes.seal(e.to, e.session, rewriteFingerprint(data))];
    });
    h.defer(server.close);
    const timeouts = { timeouts: { offer: 3000, ice: 3000, verify: 2000 } };
    const a = await h.started(server.url, { ...timeouts, identity: aKeys });
    const b = await h.started(server.url, { ...timeouts, identity: bKeys });
    const received: unknown[] = [];
    b.data$.subscribe((m) => received.push(m));
    const failure = await a.connectToNode(b.nodeId).then(
      () => undefined,
      (err: { code: string }) => err.code,
    );
    expect(failure).toMatch(/^ERR_(ICE_FAILED|CONNECTION|AUTH)$/);
    expect(a.peers()).toEqual([]);
    expect(received).toEqual([]);
  });
});
