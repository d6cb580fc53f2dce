/**
 * Why ICE failed, in words a user can act on: which candidate types each side signaled, and what
 * their absence points to (no STUN/TURN server, a symmetric NAT, a TURN server that does not work).
 */
import type { SignalData } from '../wire/envelope.js';
import { parseCandidate, sdpCandidates } from './candidates.js';

/** The candidate types of RFC 8445 §5.1.1, in the order a diagnosis lists them. */
const TYPES = ['host', 'srflx', 'prflx', 'relay'] as const;

export type CandidateType = (typeof TYPES)[number];

export type CandidateCounts = Readonly<Record<CandidateType, number>>;

/** Candidates of one session: ours (`local`) as we signaled them, the peer's (`remote`) as they arrived. */
export interface CandidateTally {
  readonly local: CandidateCounts;
  readonly remote: CandidateCounts;
}

const NONE: CandidateCounts = { host: 0, srflx: 0, prflx: 0, relay: 0 };

/** The tally of a session before any candidate. */
export const NO_CANDIDATES: CandidateTally = { local: NONE, remote: NONE };

const isCandidateType = (type: string | undefined): type is CandidateType => TYPES.some((known) => known === type);

/**
 * `tally` with the candidates of known types that `data` carries counted on `side`: a trickled
 * candidate, or the `a=candidate` lines of an offer or answer. Anything else (a reject, the empty
 * end-of-candidates line) leaves it as it is, so callers need not sort signals.
 *
 * @example
 * ```ts
 * const line = 'candidate:1 1 udp 1694498815 203.0.113.7 40000 typ srflx raddr 0.0.0.0 rport 0';
 * countCandidate(NO_CANDIDATES, 'remote', { type: 'candidate', candidate: { candidate: line } }).remote.srflx; // 1
 * ```
 */
export function countCandidate(tally: CandidateTally, side: keyof CandidateTally, data: SignalData): CandidateTally {
  const lines = data.type === 'candidate' ? [data.candidate.candidate] : 'sdp' in data ? sdpCandidates(data.sdp) : [];
  let counts = tally[side];
  for (const line of lines) {
    const type = parseCandidate(line)?.type;
    if (isCandidateType(type)) counts = { ...counts, [type]: counts[type] + 1 };
  }
  return counts === tally[side] ? tally : { ...tally, [side]: counts };
}

/** What ended ICE: our own timer, or the transport reporting the failure. */
export type IceFailure = { timeoutMs: number } | { message: string };

const total = (counts: CandidateCounts) => TYPES.reduce((sum, type) => sum + counts[type], 0);

function listed(counts: CandidateCounts): string {
  // prflx candidates are learned from connectivity checks and are almost never signaled: named only when one was.
  return TYPES.filter((type) => type !== 'prflx' || counts.prflx > 0)
    .map((type) => `${type} ${counts[type]}`)
    .join(', ');
}

/** The likeliest cause, checked from what blocks every path to what blocks only some. */
function advice({ local, remote }: CandidateTally): string {
  if (total(local) === 0) return 'We signaled no candidate: a candidate filter refused them all, or no network interface is up.';
  if (total(remote) === 0) return 'The peer signaled no candidate: its candidate filter refused them all, or it has no network interface up.';
  if (local.relay + remote.relay > 0) {
    return 'Even the relay path failed: check that the TURN server is reachable from both sides and that its credentials are valid.';
  }
  if (local.srflx === 0) return 'We have no srflx candidate: no STUN/TURN server is reachable or configured here (--stun/--turn).';
  if (remote.srflx === 0) return 'The peer has no srflx candidate: no STUN/TURN server is reachable or configured on its side (--stun/--turn).';
  return 'Both sides have srflx candidates but the direct paths failed (a symmetric NAT or a firewall): a TURN server (--turn) is needed.';
}

/**
 * The detail of an `ice-failed` close: what failed, which candidate types each side signaled, and
 * what to change. Pure, so the machine and the tests that predict its output share it.
 *
 * @example
 * ```ts
 * const tally = { local: { host: 1, srflx: 0, prflx: 0, relay: 0 }, remote: { host: 1, srflx: 1, prflx: 0, relay: 0 } };
 * diagnoseIceFailure({ timeoutMs: 20_000 }, tally);
 * // 'no candidate pair connected within 20 s; we signaled host 1, srflx 0, relay 0; the peer signaled host 1, srflx 1, relay 0.
 * //  We have no srflx candidate: no STUN/TURN server is reachable or configured here (--stun/--turn).'
 * ```
 */
export function diagnoseIceFailure(failure: IceFailure, tally: CandidateTally): string {
  // A transport message ("Ice connection failed.") opens the sentence, so it loses its full stop.
  const what = 'timeoutMs' in failure ? `no candidate pair connected within ${failure.timeoutMs / 1000} s` : failure.message.replace(/\.$/, '');
  return `${what}; we signaled ${listed(tally.local)}; the peer signaled ${listed(tally.remote)}. ${advice(tally)}`;
}
