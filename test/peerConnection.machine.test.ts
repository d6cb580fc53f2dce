import { describe, expect, it } from 'vitest';
import { peerConnectionMachine, type PeerInput } from '../src/index.js';
import { CLOSE_GRACE_MS } from '../src/machines/peerConnection.machine.js';
import { NO_CANDIDATES } from '../src/webrtc/iceDiagnosis.js';
import type { SignalData } from '../src/wire/envelope.js';
import {
  PEER_TIMEOUTS,
  answer,
  candidate,
  fakeTransport,
  offer,
  orderedIds,
  signal,
  transportDefaults,
  underParent,
} from './support/fakes.js';

const SESSION = 'session-local-1';
const OTHER = 'session-remote-9';

function peer(role: PeerInput['role'], ids = orderedIds(), local: 'small' | 'large' = 'small') {
  const transport = fakeTransport();
  const localId = ids[local];
  const remoteId = local === 'small' ? ids.large : ids.small;
  const input: PeerInput = {
    localId,
    remoteId,
    role,
    session: role === 'initiator' ? SESSION : OTHER,
    offer: role === 'responder' ? offer('remote offer') : undefined,
    timeouts: PEER_TIMEOUTS,
    transport: transportDefaults(),
  };
  const run = underParent(peerConnectionMachine.provide({ actors: { transport: transport.logic } }), input);
  const signalsOut = () => run.received.filter((e) => e.type === 'PEER.SIGNAL');
  return { ...run, transport, localId, remoteId, signalsOut, input };
}

/** A trickled candidate of the given type (the shared fake is always a host candidate). */
const typed = (type: string): SignalData => ({
  type: 'candidate',
  candidate: { candidate: `candidate:1 1 udp 1 192.0.2.1 5000 typ ${type}`, sdpMLineIndex: 0, sdpMid: '0' },
});

function toConnected(p: ReturnType<typeof peer>) {
  p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, SESSION, answer()) });
  p.transport.last().emit({ type: 'TRANSPORT.OPEN' });
  p.transport.last().emit({ type: 'TRANSPORT.VERIFIED', route: { route: 'host', local: '127.0.0.1:1', remote: '127.0.0.1:2' } });
}

describe('peer connection machine: initiator', () => {
  it('offers, connects through the answer, verifies and closes when the channel does', () => {
    const p = peer('initiator');
    expect(p.state()).toBe('offering');
    const t = p.transport.last();
    expect(t.input).toMatchObject({ initiator: true, remoteId: p.remoteId });

    t.emit({ type: 'TRANSPORT.SIGNAL', data: offer('local offer') });
    expect(p.signalsOut()).toEqual([{ type: 'PEER.SIGNAL', to: p.remoteId, session: SESSION, data: offer('local offer') }]);

    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, SESSION, answer()) });
    expect(p.state()).toBe('connecting');
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, SESSION, candidate()) });
    expect(t.commands).toEqual([
      { type: 'REMOTE_SIGNAL', data: answer() },
      { type: 'REMOTE_SIGNAL', data: candidate() },
    ]);

    t.emit({ type: 'TRANSPORT.OPEN' });
    expect(p.state()).toBe('verifying');
    expect(t.commands.at(-1)).toEqual({ type: 'VERIFY' });
    t.emit({ type: 'TRANSPORT.VERIFIED', route: { route: 'host' } });
    expect(p.state()).toBe('connected');
    expect(p.child()!.getSnapshot().context.route).toEqual({ route: 'host' });

    t.emit({ type: 'TRANSPORT.CLOSED' });
    expect(p.output()).toMatchObject({ remoteId: p.remoteId, reason: 'closed' });
    expect(t.stopped).toBe(true);
  });

  it('ignores an answer for another session', () => {
    const p = peer('initiator');
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, 'some-other-session', answer()) });
    expect(p.state()).toBe('offering');
    expect(p.transport.last().commands).toEqual([]);
  });

  it.each([
    ['offering', 'offer', 'timeout', () => {}],
    ['connecting', 'ice', 'ice-failed', (p: ReturnType<typeof peer>) => p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, SESSION, answer()) })],
    ['verifying', 'verify', 'timeout', (p: ReturnType<typeof peer>) => {
      p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, SESSION, answer()) });
      p.transport.last().emit({ type: 'TRANSPORT.OPEN' });
    }],
  ] as const)('times out in %s after timeouts.%s with reason %s and tells the peer', (state, timeout, reason, reach) => {
    const p = peer('initiator');
    reach(p);
    expect(p.state()).toBe(state);
    p.clock.increment(PEER_TIMEOUTS[timeout] - 1);
    expect(p.state()).toBe(state);
    p.clock.increment(1);
    expect(p.output()).toMatchObject({ reason });
    expect(p.signalsOut().at(-1)).toMatchObject({ data: { type: 'reject', code: reason } });
    expect(p.transport.last().stopped).toBe(true);
  });

  it('closes with rejected (busy: worth a retry) when the peer refuses or the server cannot deliver', () => {
    const refused = peer('initiator');
    refused.send({ type: 'SIGNAL.IN', signal: signal(refused.remoteId, SESSION, { type: 'reject', code: 'ERR_TOO_MANY_PEERS' }) });
    expect(refused.output()).toMatchObject({ reason: 'rejected' });

    const busy = peer('initiator');
    busy.send({ type: 'SIGNAL.IN', signal: signal(busy.remoteId, SESSION, { type: 'reject', code: 'ERR_BUSY' }) });
    expect(busy.output()).toMatchObject({ reason: 'busy', detail: expect.stringContaining('retry later') });

    const undeliverable = peer('initiator');
    undeliverable.send({ type: 'SIGNAL.FAILED', session: SESSION, error: { code: 'ERR_UNKNOWN_PEER', message: 'no such node' } });
    expect(undeliverable.output()).toMatchObject({ reason: 'rejected', detail: 'ERR_UNKNOWN_PEER: no such node' });
  });

  it('closes with auth when the DTLS certificate does not match the signed fingerprint', () => {
    const p = peer('initiator');
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, SESSION, answer()) });
    p.transport.last().emit({ type: 'TRANSPORT.OPEN' });
    p.transport.last().emit({ type: 'TRANSPORT.AUTH_FAILED', message: 'mismatch' });
    expect(p.output()).toMatchObject({ reason: 'auth', detail: 'mismatch' });
  });

  it('maps transport failures to ice-failed or error', () => {
    const ice = peer('initiator');
    ice.transport.last().emit({ type: 'TRANSPORT.ERROR', reason: 'ice-failed', message: 'ICE failed' });
    expect(ice.output()).toMatchObject({ reason: 'ice-failed' });

    const broken = peer('initiator');
    broken.transport.last().emit({ type: 'TRANSPORT.ERROR', reason: 'error', message: 'boom' });
    expect(broken.output()).toMatchObject({ reason: 'error', detail: 'boom' });

    const early = peer('initiator');
    early.transport.last().emit({ type: 'TRANSPORT.CLOSED' });
    expect(early.output()).toMatchObject({ reason: 'error' });
  });
});

describe('peer connection machine: responder', () => {
  it('answers the offer it was spawned with and connects', () => {
    const p = peer('responder');
    expect(p.state()).toBe('answering');
    const t = p.transport.last();
    expect(t.input.initiator).toBe(false);
    expect(t.commands).toEqual([{ type: 'REMOTE_SIGNAL', data: offer('remote offer') }]);

    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, OTHER, candidate()) });
    expect(t.commands).toHaveLength(2);
    t.emit({ type: 'TRANSPORT.SIGNAL', data: answer('local answer') });
    expect(p.state()).toBe('connecting');
    expect(p.signalsOut()).toEqual([{ type: 'PEER.SIGNAL', to: p.remoteId, session: OTHER, data: answer('local answer') }]);
    t.emit({ type: 'TRANSPORT.OPEN' });
    t.emit({ type: 'TRANSPORT.VERIFIED', route: { route: 'relay' } });
    expect(p.state()).toBe('connected');
  });

  it('times out when no answer is produced', () => {
    const p = peer('responder');
    p.clock.increment(PEER_TIMEOUTS.answer);
    expect(p.output()).toMatchObject({ reason: 'timeout' });
  });
});

describe('peer connection machine: glare, restarts and closing', () => {
  it('gives up its own offer when the remote id is smaller', () => {
    const p = peer('initiator', orderedIds(), 'large');
    const first = p.transport.last();
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, OTHER, offer('their offer')) });
    expect(p.state()).toBe('answering');
    expect(first.stopped).toBe(true);
    const second = p.transport.last();
    expect(second).not.toBe(first);
    expect(second.input.initiator).toBe(false);
    expect(second.commands).toEqual([{ type: 'REMOTE_SIGNAL', data: offer('their offer') }]);
    expect(p.child()!.getSnapshot().context.session).toBe(OTHER);
  });

  it('keeps its own offer when its id is smaller', () => {
    const p = peer('initiator', orderedIds(), 'small');
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, OTHER, offer('their offer')) });
    expect(p.state()).toBe('offering');
    expect(p.transport.instances).toHaveLength(1);
    expect(p.child()!.getSnapshot().context.session).toBe(SESSION);
  });

  it('answers a new session from a connected peer that restarted, replacing the old transport', () => {
    const p = peer('initiator');
    toConnected(p);
    const old = p.transport.last();
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, 'restarted-session', offer('after restart')) });
    expect(p.state()).toBe('answering');
    expect(old.stopped).toBe(true);
    expect(p.transport.last().commands).toEqual([{ type: 'REMOTE_SIGNAL', data: offer('after restart') }]);
  });

  it('restarts its answer when a second new offer arrives while answering', () => {
    const p = peer('responder');
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, 'newer-session', offer('newer')) });
    expect(p.state()).toBe('answering');
    expect(p.transport.instances).toHaveLength(2);
    expect(p.transport.instances[0]!.stopped).toBe(true);
    p.clock.increment(PEER_TIMEOUTS.answer - 1);
    expect(p.state()).toBe('answering');
  });

  it('closes once connected by ending the stream, and the peer acknowledging it, with no goodbye signal', () => {
    const p = peer('initiator');
    toConnected(p);
    const before = p.signalsOut().length;
    p.send({ type: 'CLOSE' });
    expect(p.state()).toBe('closing');
    expect(p.transport.last().commands.at(-1)).toEqual({ type: 'END', timeoutMs: PEER_TIMEOUTS.flush });
    p.transport.last().emit({ type: 'TRANSPORT.ENDED', acknowledged: true, unsent: 0 });
    expect(p.output()).toEqual({ remoteId: expect.any(String), reason: 'closed', detail: undefined });
    expect(p.signalsOut()).toHaveLength(before);
    expect(p.transport.last().stopped).toBe(true);
  });

  it('reports what a flush left undelivered, and closes at once when forced', () => {
    const flushing = peer('initiator');
    toConnected(flushing);
    flushing.send({ type: 'CLOSE' });
    flushing.transport.last().emit({ type: 'TRANSPORT.ENDED', acknowledged: false, unsent: 4096 });
    expect(flushing.output()).toMatchObject({
      reason: 'closed',
      undelivered: 4096,
      detail: 'the peer did not acknowledge everything before the flush timeout; 4096 bytes never left',
    });
    const forced = peer('initiator');
    toConnected(forced);
    forced.send({ type: 'CLOSE', force: true });
    expect(forced.output()).toMatchObject({ reason: 'closed' });
    expect(forced.transport.last().commands.some((c) => c.type === 'END')).toBe(false);
  });

  it('closes with peer-lost when the heartbeat finds the peer silent, whatever ICE says', () => {
    const p = peer('initiator');
    toConnected(p);
    p.transport.last().emit({ type: 'TRANSPORT.LOST', detail: 'nothing heard for 4000 ms; ICE connected' });
    expect(p.output()).toMatchObject({ reason: 'peer-lost', detail: 'nothing heard for 4000 ms; ICE connected' });
  });

  it('waits for the peer to close after acknowledging its end, but no longer than flush plus the grace period', () => {
    const p = peer('initiator');
    toConnected(p);
    p.transport.last().emit({ type: 'TRANSPORT.REMOTE_END' });
    expect(p.state()).toBe('closing');
    p.clock.increment(PEER_TIMEOUTS.flush + CLOSE_GRACE_MS - 1);
    expect(p.state()).toBe('closing');
    p.clock.increment(1);
    expect(p.output()).toMatchObject({ reason: 'closed', detail: 'the transport did not finish closing in time' });
  });

  it('tells the peer when it closes during negotiation', () => {
    const p = peer('initiator');
    p.send({ type: 'CLOSE' });
    expect(p.output()).toMatchObject({ reason: 'closed' });
    expect(p.signalsOut().at(-1)).toMatchObject({ data: { type: 'reject', code: 'closed' } });
  });

  it('treats a goodbye from a connected peer as a normal close', () => {
    const p = peer('initiator');
    toConnected(p);
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, SESSION, { type: 'reject', code: 'closed' }) });
    expect(p.output()).toMatchObject({ reason: 'closed' });
  });

  it('while connected, passes its session’s restart signals to the transport and drops another session’s answer', () => {
    const p = peer('initiator');
    toConnected(p);
    const commands = p.transport.last().commands.length;
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, 'some-other-session', answer('stray')) });
    expect(p.transport.last().commands).toHaveLength(commands);
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, SESSION, { type: 'restart' }) });
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, SESSION, answer('restart answer')) });
    expect(p.state()).toBe('connected');
    expect(p.transport.last().commands.slice(commands)).toEqual([
      { type: 'REMOTE_SIGNAL', data: { type: 'restart' } },
      { type: 'REMOTE_SIGNAL', data: answer('restart answer') },
    ]);
  });
});

describe('peer connection machine: diagnosing an ICE failure', () => {
  it("counts this session's candidates both ways and names them when the ice timer runs out", () => {
    const p = peer('initiator');
    const t = p.transport.last();
    t.emit({ type: 'TRANSPORT.SIGNAL', data: typed('host') });
    t.emit({ type: 'TRANSPORT.SIGNAL', data: typed('srflx') });
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, SESSION, answer()) });
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, SESSION, typed('srflx')) });
    // A late candidate of another session never reaches this transport, so it is not counted either.
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, 'some-other-session', typed('relay')) });
    expect(p.child()!.getSnapshot().context.candidates).toEqual({
      local: { host: 1, srflx: 1, prflx: 0, relay: 0 },
      remote: { host: 0, srflx: 1, prflx: 0, relay: 0 },
    });

    p.clock.increment(PEER_TIMEOUTS.ice);
    expect(p.output()).toEqual({
      remoteId: p.remoteId,
      reason: 'ice-failed',
      detail:
        'no candidate pair connected within 2 s; we signaled host 1, srflx 1, relay 0; the peer signaled host 0, srflx 1, relay 0. ' +
        'Both sides have srflx candidates but the direct paths failed (a symmetric NAT or a firewall): a TURN server (--turn) is needed.',
    });
  });

  it("words a transport-reported ICE failure the same way, after the transport's message", () => {
    const p = peer('responder');
    const t = p.transport.last();
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, OTHER, typed('host')) });
    t.emit({ type: 'TRANSPORT.SIGNAL', data: answer('local answer') });
    t.emit({ type: 'TRANSPORT.SIGNAL', data: typed('relay') });
    t.emit({ type: 'TRANSPORT.ERROR', reason: 'ice-failed', message: 'Ice connection failed.' });
    expect(p.output()).toMatchObject({
      reason: 'ice-failed',
      detail: expect.stringMatching(
        /^Ice connection failed; we signaled host 0, srflx 0, relay 1; the peer signaled host 1, srflx 0, relay 0\. Even the relay path failed/,
      ),
    });
  });

  it('reports the peer giving up on ICE as our ICE failure, diagnosed with what we saw; other refusals as rejected', () => {
    const p = peer('initiator');
    p.transport.last().emit({ type: 'TRANSPORT.SIGNAL', data: typed('srflx') });
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, SESSION, answer()) });
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, SESSION, typed('srflx')) });
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, SESSION, { type: 'reject', code: 'ice-failed' }) });
    expect(p.output()).toMatchObject({
      reason: 'ice-failed',
      detail: expect.stringMatching(/^the peer found no working candidate pair; we signaled host 0, srflx 1, relay 0; .*a TURN server \(--turn\) is needed/),
    });
    const q = peer('initiator');
    q.send({ type: 'SIGNAL.IN', signal: signal(q.remoteId, SESSION, { type: 'reject', code: 'timeout' }) });
    expect(q.output()).toEqual({ remoteId: q.remoteId, reason: 'rejected', detail: undefined });
  });

  it('starts counting afresh when the peer restarts with a new session', () => {
    const p = peer('initiator');
    p.transport.last().emit({ type: 'TRANSPORT.SIGNAL', data: typed('host') });
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, SESSION, answer()) });
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, SESSION, typed('host')) });
    p.send({ type: 'SIGNAL.IN', signal: signal(p.remoteId, 'restarted-session', offer('after restart')) });
    expect(p.state()).toBe('answering');
    expect(p.child()!.getSnapshot().context.candidates).toEqual(NO_CANDIDATES);

    p.transport.last().emit({ type: 'TRANSPORT.SIGNAL', data: answer('local answer') });
    p.clock.increment(PEER_TIMEOUTS.ice);
    expect(p.output()).toMatchObject({ reason: 'ice-failed', detail: expect.stringContaining('We signaled no candidate') });
  });
});
