/** What a candidate filter gets to decide on. */
export interface CandidateInfo {
  address: string;
  port: number;
  protocol: string;
  type: string;
}

/** Decides which ICE candidates (ours and the peer's) take part; the rest are never signaled or tried. */
export type CandidateFilter = (candidate: CandidateInfo) => boolean;

/** Parses an `a=candidate` / `candidate:` line (RFC 8839 §5.1). */
export function parseCandidate(line: string): CandidateInfo | undefined {
  const parts = line.replace(/^a=/, '').replace(/^candidate:/, '').trim().split(/\s+/);
  const [, , protocol, , address, port, typ, type] = parts;
  if (!protocol || !address || !port || typ !== 'typ' || !type) return undefined;
  return { address, port: Number(port), protocol: protocol.toLowerCase(), type };
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;

/**
 * Keeps only loopback candidates: one-machine demos and tests that must not touch other interfaces.
 * It filters the candidates signaled and taken, not the sockets libwebrtc binds: the local address of
 * the selected pair that getStats() reports may still be another interface's (an `fd00::` one was
 * seen on this machine), since the filter cannot reach into libwebrtc's port allocator.
 */
export const loopbackOnly: CandidateFilter = (c) => LOOPBACK.test(c.address);

/** True when `filter` accepts the candidate line (unparsable lines are refused). */
export function acceptsCandidate(filter: CandidateFilter | undefined, line: string): boolean {
  if (!filter) return true;
  const info = parseCandidate(line);
  return info !== undefined && filter(info);
}

/** Removes the `a=candidate` lines of an SDP that `filter` refuses. */
export function filterSdp(filter: CandidateFilter | undefined, sdp: string): string {
  if (!filter) return sdp;
  return sdp
    .split('\r\n')
    .filter((line) => !line.startsWith('a=candidate:') || acceptsCandidate(filter, line))
    .join('\r\n');
}

/**
 * What makes two candidate lines the same candidate: foundation, component, transport, priority,
 * address, port and type. libwebrtc writes one candidate differently in its SDP and when it trickles
 * it (`ufrag` only in the latter), so whole lines cannot be compared.
 */
export function candidateKey(line: string): string {
  return line.replace(/^a=/, '').trim().split(/\s+/).slice(0, 8).join(' ');
}

/** The `candidate:` lines of an SDP, as trickled candidates carry them. */
export function sdpCandidates(sdp: string): string[] {
  return sdp
    .split('\r\n')
    .filter((line) => line.startsWith('a=candidate:'))
    .map((line) => line.slice('a='.length));
}

/**
 * `sdp` with those of the trickled `candidates` it lacks added as `a=candidate` lines (libwebrtc's
 * SDP already lists the candidates gathered before it was read). They go to the end, that is into
 * the last media section, which is right for our data-only connections: they have a single one.
 */
export function withCandidates(sdp: string, candidates: readonly string[]): string {
  const present = new Set(sdpCandidates(sdp).map(candidateKey));
  const added = candidates.filter((line) => {
    const key = candidateKey(line);
    if (present.has(key)) return false;
    present.add(key);
    return true;
  });
  if (added.length === 0) return sdp;
  const base = sdp.endsWith('\r\n') ? sdp : `${sdp}\r\n`;
  return base + added.map((line) => `a=${line}\r\n`).join('');
}

/** The ICE username fragment an SDP declares (`a=ice-ufrag:`), which an ICE restart renews. */
export function sdpUfrag(sdp: string): string | undefined {
  return /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1];
}

/**
 * Whether a trickled candidate belongs to the ICE credentials `ufrag`: one from before an ICE restart
 * does not, and RTCPeerConnection refuses it (simple-peer then destroys the connection). A candidate
 * that names no `ufrag` belongs to the current credentials.
 */
export function ofCurrentGeneration(line: string, ufrag: string | undefined): boolean {
  const named = /\sufrag\s+(\S+)/.exec(line)?.[1];
  return named === undefined || ufrag === undefined || named === ufrag;
}
