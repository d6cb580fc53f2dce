import { describe, expect, it } from 'vitest';
import { NO_CANDIDATES, countCandidate, diagnoseIceFailure, type CandidateTally, type CandidateType } from '../src/webrtc/iceDiagnosis.js';
import type { SignalData } from '../src/wire/envelope.js';

const candidate = (type: string): SignalData => ({
  type: 'candidate',
  candidate: { candidate: `candidate:1 1 udp 1 192.0.2.1 5000 typ ${type} generation 0`, sdpMLineIndex: 0, sdpMid: '0' },
});

/** A tally with `local` and `remote` counted from candidates of the given types. */
function tally(local: CandidateType[], remote: CandidateType[]): CandidateTally {
  const counted = local.reduce((t, type) => countCandidate(t, 'local', candidate(type)), NO_CANDIDATES);
  return remote.reduce((t, type) => countCandidate(t, 'remote', candidate(type)), counted);
}

const TIMEOUT = { timeoutMs: 20_000 };

describe('countCandidate', () => {
  it('counts each known type on its side, leaving the tally it was given untouched', () => {
    const counted = tally(['host', 'host', 'srflx'], ['relay', 'prflx']);
    expect(counted).toEqual({
      local: { host: 2, srflx: 1, prflx: 0, relay: 0 },
      remote: { host: 0, srflx: 0, prflx: 1, relay: 1 },
    });
    expect(NO_CANDIDATES.local.host).toBe(0);
  });

  it('counts the candidates an offer or answer carries', () => {
    const lines = ['host', 'srflx', 'nonsense'].map((type) => `a=candidate:1 1 udp 1 192.0.2.1 5000 typ ${type}`);
    const sdp = ['v=0', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', ...lines, ''].join('\r\n');
    expect(countCandidate(NO_CANDIDATES, 'remote', { type: 'answer', sdp }).remote).toEqual({ host: 1, srflx: 1, prflx: 0, relay: 0 });
  });

  it.each<[string, SignalData]>([
    ['an SDP without candidates', { type: 'offer', sdp: 'v=0' }],
    ['a reject', { type: 'reject', code: 'closed' }],
    ['the end-of-candidates line', { type: 'candidate', candidate: { candidate: '' } }],
    ['an unknown type', candidate('toString')],
  ])('ignores %s', (_, data) => {
    expect(countCandidate(NO_CANDIDATES, 'local', data)).toBe(NO_CANDIDATES);
  });
});

describe('diagnoseIceFailure', () => {
  it('says what failed and lists both sides, prflx only when there was one', () => {
    expect(diagnoseIceFailure(TIMEOUT, tally(['host'], ['host', 'srflx']))).toBe(
      'no candidate pair connected within 20 s; we signaled host 1, srflx 0, relay 0; the peer signaled host 1, srflx 1, relay 0. ' +
        'We have no srflx candidate: no STUN/TURN server is reachable or configured here (--stun/--turn).',
    );
    expect(diagnoseIceFailure({ timeoutMs: 2000 }, tally(['host', 'prflx'], ['host']))).toMatch(
      /^no candidate pair connected within 2 s; we signaled host 1, srflx 0, prflx 1, relay 0; the peer signaled host 1, srflx 0, relay 0\. /,
    );
  });

  it("opens with the transport's own message when the transport reported the failure", () => {
    expect(diagnoseIceFailure({ message: 'Ice connection failed.' }, tally(['srflx'], ['srflx']))).toMatch(
      /^Ice connection failed; we signaled host 0, srflx 1, relay 0; the peer signaled host 0, srflx 1, relay 0\. Both sides/,
    );
  });

  it.each<[string, CandidateType[], CandidateType[], RegExp]>([
    ['we signaled nothing', [], ['host', 'srflx'], /We signaled no candidate: a candidate filter refused them all/],
    ['the peer signaled nothing', ['host', 'srflx'], [], /The peer signaled no candidate/],
    ['we have a relay candidate', ['host', 'relay'], ['host'], /Even the relay path failed: check that the TURN server is reachable/],
    ['the peer has a relay candidate', ['host', 'srflx'], ['relay'], /Even the relay path failed/],
    ['we have no srflx (host only on both sides)', ['host'], ['host'], /We have no srflx candidate: no STUN\/TURN server .* \(--stun\/--turn\)\.$/],
    ['only the peer lacks srflx', ['host', 'srflx'], ['host'], /The peer has no srflx candidate: .* on its side/],
    ['both have srflx, neither relay', ['host', 'srflx'], ['host', 'srflx'], /direct paths failed \(a symmetric NAT or a firewall\): a TURN server \(--turn\) is needed\.$/],
  ])('advises by the candidates when %s', (_, local, remote, advice) => {
    expect(diagnoseIceFailure(TIMEOUT, tally(local, remote))).toMatch(advice);
  });
});
