import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../src/index.js';
import { Envelopes, newSessionId } from '../src/wire/envelope.js';
import { envelopeMessage, type Envelope } from '../src/wire/protocol.js';

const alice = generateIdentity();
const bob = generateIdentity();
const mallory = generateIdentity();
const offer = { type: 'offer' as const, sdp: 'v=0\r\na=fingerprint:sha-256 AA:BB\r\n' };

/** Re-signs `envelope` after edits, with `signer`'s key. */
function resign(envelope: Envelope, signer = mallory): Envelope {
  const { sig: _, ...unsigned } = envelope;
  return { ...unsigned, sig: Buffer.from(signer.sign(envelopeMessage(unsigned))).toString('base64url') };
}

describe('signed envelopes', () => {
  it('open what was sealed for us', () => {
    const session = newSessionId();
    const sealed = new Envelopes(alice).seal(bob.nodeId, session, offer);
    expect(new Envelopes(bob).open(sealed)).toEqual({
      ok: true,
      signal: { from: alice.nodeId, session, seq: 0, kind: 'offer', data: offer, sealed: false },
    });
  });

  it('open a restart request and the restart offer that follows it in the same session, in order', () => {
    const session = newSessionId();
    const [sender, receiver] = [new Envelopes(alice), new Envelopes(bob)];
    const first = sender.seal(bob.nodeId, session, offer);
    const request = sender.seal(bob.nodeId, session, { type: 'restart' });
    const again = sender.seal(bob.nodeId, session, offer);
    expect(request).toMatchObject({ kind: 'restart', seq: 1, data: '{"type":"restart"}' });
    expect([first, request, again].map((e) => receiver.open(e))).toMatchObject([{ ok: true }, { ok: true, signal: { kind: 'restart', data: { type: 'restart' } } }, { ok: true }]);
    expect(receiver.open(request)).toEqual({ ok: false, reason: 'replay' });
  });

  it('drop an SDP whose fingerprint was rewritten on the way', () => {
    const sealed = new Envelopes(alice).seal(bob.nodeId, newSessionId(), offer);
    const tampered = { ...sealed, data: sealed.data.replace('AA:BB', 'CC:DD') };
    expect(new Envelopes(bob).open(tampered)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('drop a sender id that is not the hash of the signing key', () => {
    const sealed = new Envelopes(mallory).seal(bob.nodeId, newSessionId(), offer);
    expect(new Envelopes(bob).open({ ...sealed, from: alice.nodeId })).toEqual({ ok: false, reason: 'key-mismatch' });
  });

  it("drop someone else's key with a signature by another key", () => {
    const sealed = new Envelopes(alice).seal(bob.nodeId, newSessionId(), offer);
    expect(new Envelopes(bob).open(resign({ ...sealed, data: JSON.stringify({ type: 'offer', sdp: 'evil' }) }))).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
  });

  it('drop envelopes meant for another node', () => {
    const sealed = new Envelopes(alice).seal(mallory.nodeId, newSessionId(), offer);
    expect(new Envelopes(bob).open(sealed)).toEqual({ ok: false, reason: 'not-for-me' });
  });

  it('drop envelopes outside the time window', () => {
    let now = 1_000_000;
    const sealed = new Envelopes(alice, { now: () => now }).seal(bob.nodeId, newSessionId(), offer);
    now += 120_001;
    expect(new Envelopes(bob, { now: () => now }).open(sealed)).toEqual({ ok: false, reason: 'stale' });
    now -= 2 * 120_001;
    expect(new Envelopes(bob, { now: () => now }).open(sealed)).toEqual({ ok: false, reason: 'stale' });
  });

  it('drop replays and out-of-order sequence numbers, per sender and session', () => {
    const sender = new Envelopes(alice);
    const receiver = new Envelopes(bob);
    const session = newSessionId();
    const first = sender.seal(bob.nodeId, session, offer);
    const second = sender.seal(bob.nodeId, session, offer);
    expect(second.seq).toBe(first.seq + 1);
    expect(receiver.open(second).ok).toBe(true);
    expect(receiver.open(second)).toEqual({ ok: false, reason: 'replay' });
    expect(receiver.open(first)).toEqual({ ok: false, reason: 'replay' });
    expect(receiver.open(sender.seal(bob.nodeId, newSessionId(), offer)).ok).toBe(true);
  });

  it('drop malformed envelopes and payloads that do not fit their kind', () => {
    const receiver = new Envelopes(bob);
    for (const junk of [null, 42, 'x', [], {}, { v: 1 }, { __proto__: { v: 1 } }]) {
      expect(receiver.open(junk)).toEqual({ ok: false, reason: 'malformed' });
    }
    const sealed = new Envelopes(alice).seal(bob.nodeId, newSessionId(), offer);
    expect(receiver.open({ ...sealed, seq: -1 })).toEqual({ ok: false, reason: 'malformed' });
    expect(receiver.open({ ...sealed, data: 'x'.repeat(20_000) })).toEqual({ ok: false, reason: 'malformed' });
    const wrongKind = resign({ ...sealed, kind: 'answer' }, alice);
    expect(receiver.open(wrongKind)).toEqual({ ok: false, reason: 'bad-payload' });
    const notJson = resign({ ...sealed, data: '{nope' }, alice);
    expect(receiver.open(notJson)).toEqual({ ok: false, reason: 'bad-payload' });
  });
});
