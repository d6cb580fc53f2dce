/** DTLS certificate fingerprint of an SDP or a stats report, normalized to compare equal. */
export interface Fingerprint {
  algorithm: string;
  value: string;
}

const FINGERPRINT_LINE = /^a=fingerprint:(\S+) ([0-9A-Fa-f:]+)\s*$/gm;

/**
 * The fingerprints an SDP commits to (session and media level). Returns undefined when they disagree
 * or there are none: such an SDP cannot be pinned and must not be accepted.
 */
export function sdpFingerprint(sdp: string): Fingerprint | undefined {
  const found = new Set<string>();
  let first: Fingerprint | undefined;
  for (const match of sdp.matchAll(FINGERPRINT_LINE)) {
    const fp = { algorithm: match[1]!.toLowerCase(), value: match[2]!.toUpperCase() };
    first ??= fp;
    found.add(`${fp.algorithm} ${fp.value}`);
  }
  return found.size === 1 ? first : undefined;
}

/** Minimal view of an RTCStatsReport entry. */
type Stats = Record<string, unknown> & { id: string; type: string };

/** How the selected candidate pair reaches the peer. */
export interface RouteInfo {
  route: 'host' | 'srflx' | 'prflx' | 'relay' | 'unknown';
  local?: string;
  remote?: string;
  rttMs?: number;
}

export interface DtlsInfo {
  remote?: Fingerprint;
  route: RouteInfo;
}

function endpoint(candidate: Stats | undefined): string | undefined {
  if (!candidate) return undefined;
  // libwebrtc redacts the address of peer-reflexive remote candidates to ''.
  const address = (candidate.address || candidate.ip) as string | undefined;
  if (!address) return undefined;
  return `${address.includes(':') ? `[${address}]` : address}:${String(candidate.port)}`;
}

/** The IP address of an endpoint as {@link RouteInfo} writes it (`1.2.3.4:5` or `[::1]:5`). */
export function addressOf(endpoint: string | undefined): string | undefined {
  return endpoint === undefined ? undefined : /^\[?([^\]]*?)\]?:\d+$/.exec(endpoint)?.[1];
}

function routeOf(local: Stats | undefined, remote: Stats | undefined): RouteInfo['route'] {
  const types = [local?.candidateType, remote?.candidateType];
  if (types.includes('relay')) return 'relay';
  const type = local?.candidateType;
  return type === 'host' || type === 'srflx' || type === 'prflx' ? type : 'unknown';
}

/** Reads the remote certificate the DTLS handshake used, and the selected route, from getStats(). */
export function readDtlsInfo(report: Iterable<Stats>): DtlsInfo {
  const byId = new Map<string, Stats>();
  for (const entry of report) byId.set(entry.id, entry);
  const transport = [...byId.values()].find((s) => s.type === 'transport' && s.dtlsState === 'connected');
  const cert = byId.get(String(transport?.remoteCertificateId));
  const pair = byId.get(String(transport?.selectedCandidatePairId));
  const local = byId.get(String(pair?.localCandidateId));
  const remote = byId.get(String(pair?.remoteCandidateId));
  const rtt = pair?.currentRoundTripTime;
  return {
    remote:
      cert && typeof cert.fingerprint === 'string' && typeof cert.fingerprintAlgorithm === 'string'
        ? { algorithm: cert.fingerprintAlgorithm.toLowerCase(), value: cert.fingerprint.toUpperCase() }
        : undefined,
    route: {
      route: routeOf(local, remote),
      local: endpoint(local),
      remote: endpoint(remote),
      rttMs: typeof rtt === 'number' ? Math.round(rtt * 1000 * 10) / 10 : undefined,
    },
  };
}

export function sameFingerprint(a: Fingerprint | undefined, b: Fingerprint | undefined): boolean {
  return a !== undefined && b !== undefined && a.algorithm === b.algorithm && a.value === b.value;
}

/** Packets from the peer that getStats() counts on all candidate pairs, by kind. */
export interface PacketsHeard {
  /** DTLS (SCTP inside): a path that carries them works, even while SCTP waits on a lost packet. */
  data: number;
  /** ICE connectivity checks and their responses: a live peer answers consent checks every few seconds. */
  checks: number;
}

/**
 * Every packet the peer sent us that getStats() counts, on every candidate pair. A frozen or dead
 * peer adds none of either kind; a peer behind a broken path (a NAT mapping that changed) may still
 * get ICE checks through from a new address, but no DTLS packet on a pair in use.
 */
export function packetsFromPeer(report: Iterable<Stats>): PacketsHeard {
  const heard = { data: 0, checks: 0 };
  const count = (value: unknown): number => (typeof value === 'number' ? value : 0);
  for (const stats of report) {
    if (stats.type !== 'candidate-pair') continue;
    heard.data += count(stats.packetsReceived);
    heard.checks += count(stats.requestsReceived) + count(stats.responsesReceived);
  }
  return heard;
}
