import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../src/log.js';
import { generateIdentity } from '../src/wire/identity.js';
import { KeyGate } from '../src/services/keyGate.js';
import { Envelopes } from '../src/wire/envelope.js';
import type { Envelope, ProtocolError } from '../src/wire/protocol.js';

const [alice, bob] = [generateIdentity(), generateIdentity()];
type Command = { to: string; n: number };

function gate(options: { lookup?: boolean; requireEncryption?: boolean } = {}) {
  const envelopes = new Envelopes(alice, { requireEncryption: options.requireEncryption });
  const hellos: { to: string; hello: Envelope; done: (error?: ProtocolError) => void }[] = [];
  const lookups: { to: string; done: (error?: ProtocolError) => void }[] = [];
  const sent: number[] = [];
  const failed: [number, string][] = [];
  const g = new KeyGate<Command>({
    envelopes,
    logger: silentLogger,
    helloTimeoutMs: 2000,
    ...(options.lookup ? { lookup: (to, done) => void lookups.push({ to, done }) } : { sendHello: (to, hello, done) => void hellos.push({ to, hello, done }) }),
  });
  const send = (n: number, to = bob.nodeId) => g.send({ to, n }, (c) => sent.push(c.n), (c, e) => failed.push([c.n, e.code]));
  /** Bob answers Alice's hello: his reply reaches Alice's envelopes, and the gate hears it. */
  const answer = () => {
    const theirs = new Envelopes(bob);
    theirs.open(hellos[0]!.hello);
    expect(envelopes.open(theirs.hello(alice.nodeId, false)).ok).toBe(true);
    g.heard(bob.nodeId);
  };
  return { g, envelopes, hellos, lookups, sent, failed, send, answer };
}

describe('the key gate', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('holds signals to a node of unknown key, asks with one hello, and lets them through in order once it answers', () => {
    const t = gate();
    t.send(1);
    t.send(2);
    expect(t.hellos.map((h) => [h.to, h.hello.kind])).toEqual([[bob.nodeId, 'hello']]);
    expect(t.sent).toEqual([]);
    t.answer();
    t.send(3);
    expect(t.sent).toEqual([1, 2, 3]);
    expect(t.envelopes.encryptsTo(bob.nodeId)).toBe(true);
  });

  it('sends plainly to a node that stays silent (from before encryption), and asks again after 10 minutes', () => {
    const t = gate();
    t.send(1);
    vi.advanceTimersByTime(2000);
    expect(t.sent).toEqual([1]);
    t.send(2);
    expect(t.hellos).toHaveLength(1);
    vi.advanceTimersByTime(10 * 60_000);
    t.send(3);
    expect(t.hellos).toHaveLength(2);
  });

  it('sends plainly when the server refuses the hello kind (a server from before encryption), and fails them on any other refusal', () => {
    const t = gate();
    t.send(1);
    t.hellos[0]!.done({ code: 'ERR_BAD_REQUEST', message: 'malformed envelope' });
    expect(t.sent).toEqual([1]);
    const other = generateIdentity().nodeId;
    t.send(2, other);
    t.hellos[1]!.done({ code: 'ERR_UNKNOWN_PEER', message: 'no such node' });
    expect(t.failed).toEqual([[2, 'ERR_UNKNOWN_PEER']]);
  });

  it('fails instead of sending plainly where encryption is required', () => {
    const t = gate({ requireEncryption: true });
    t.send(1);
    vi.advanceTimersByTime(2000);
    expect(t.sent).toEqual([]);
    expect(t.failed).toEqual([[1, 'ERR_UNKNOWN_PEER']]);
  });

  it('uses the carrier lookup instead of a hello, and never falls back to plain', () => {
    const t = gate({ lookup: true });
    t.send(1);
    t.envelopes.keys.learn(bob.nodeId, bob.publicKey, true);
    t.lookups[0]!.done();
    expect(t.sent).toEqual([1]);
    const carol = generateIdentity().nodeId;
    t.send(2, carol);
    t.lookups[1]!.done();
    expect(t.failed).toEqual([[2, 'ERR_UNKNOWN_PEER']]);
  });

  it('forgets queued signals when closed', () => {
    const t = gate();
    t.send(1);
    t.g.close();
    vi.advanceTimersByTime(5000);
    expect([t.sent, t.failed]).toEqual([[], []]);
  });
});
