import { describe, expect, it } from 'vitest';
import { filterSdp, loopbackOnly, ofCurrentGeneration, parseCandidate, sdpCandidates, sdpUfrag, withCandidates } from '../src/webrtc/candidates.js';
import { packetsFromPeer, readDtlsInfo, sameFingerprint, sdpFingerprint } from '../src/webrtc/fingerprint.js';

const FP = '12:9F:0D:DD:09:6E:55:F7:CD:FC:A3:F7:53:A6:10:0C:81:02:01:9C:C5:49:85:C2:29:1E:92:7D:9D:83:5D:AC';

/** The shape of a connected wrtc 0.10 stats report (ids and values as captured from a real run). */
function report(remoteFingerprint = FP, localType = 'host', remoteType = 'host') {
  return [
    { id: 'RTCTransport_0_1', type: 'transport', dtlsState: 'connected', selectedCandidatePairId: 'P1', remoteCertificateId: `RTCCertificate_${remoteFingerprint}`, localCertificateId: 'RTCCertificate_local' },
    { id: `RTCCertificate_${remoteFingerprint}`, type: 'certificate', fingerprint: remoteFingerprint, fingerprintAlgorithm: 'sha-256' },
    { id: 'RTCCertificate_local', type: 'certificate', fingerprint: 'AA:AA', fingerprintAlgorithm: 'sha-256' },
    { id: 'P1', type: 'candidate-pair', localCandidateId: 'L1', remoteCandidateId: 'R1', state: 'succeeded', currentRoundTripTime: 0.0012 },
    { id: 'L1', type: 'local-candidate', address: '127.0.0.1', port: 40825, candidateType: localType },
    { id: 'R1', type: 'remote-candidate', address: '127.0.0.1', port: 34055, candidateType: remoteType },
  ];
}

describe('DTLS fingerprint pinning', () => {
  it('reads the single fingerprint an SDP commits to', () => {
    const sdp = `v=0\r\na=fingerprint:sha-256 ${FP.toLowerCase()}\r\nm=application 9\r\na=fingerprint:sha-256 ${FP}\r\n`;
    expect(sdpFingerprint(sdp)).toEqual({ algorithm: 'sha-256', value: FP });
  });

  it('refuses SDPs with no fingerprint or with disagreeing ones', () => {
    expect(sdpFingerprint('v=0\r\n')).toBeUndefined();
    expect(sdpFingerprint(`a=fingerprint:sha-256 ${FP}\r\na=fingerprint:sha-256 AA:BB\r\n`)).toBeUndefined();
  });

  it('reads the certificate the handshake used and the selected route from getStats()', () => {
    const info = readDtlsInfo(report());
    expect(sameFingerprint(info.remote, { algorithm: 'sha-256', value: FP })).toBe(true);
    expect(info.route).toEqual({ route: 'host', local: '127.0.0.1:40825', remote: '127.0.0.1:34055', rttMs: 1.2 });
  });

  it('detects a handshake with a certificate other than the pinned one', () => {
    const info = readDtlsInfo(report('DE:AD:BE:EF'));
    expect(sameFingerprint(info.remote, { algorithm: 'sha-256', value: FP })).toBe(false);
    expect(sameFingerprint(undefined, undefined)).toBe(false);
  });

  it('reports relay when either end of the selected pair is a TURN relay', () => {
    expect(readDtlsInfo(report(FP, 'relay', 'srflx')).route.route).toBe('relay');
    expect(readDtlsInfo(report(FP, 'prflx', 'relay')).route.route).toBe('relay');
    expect(readDtlsInfo(report(FP, 'srflx', 'host')).route.route).toBe('srflx');
    expect(readDtlsInfo([]).route.route).toBe('unknown');
  });
});

describe('candidate filtering', () => {
  it('parses candidate lines', () => {
    expect(parseCandidate('candidate:1 1 udp 2122063615 127.0.0.1 40825 typ host generation 0')).toEqual({
      address: '127.0.0.1',
      port: 40825,
      protocol: 'udp',
      type: 'host',
    });
    expect(parseCandidate('garbage')).toBeUndefined();
  });

  it('keeps only loopback candidates in an SDP when asked', () => {
    const sdp = [
      'v=0',
      'a=candidate:1 1 udp 1 127.0.0.1 1000 typ host',
      'a=candidate:2 1 udp 1 192.0.2.2 1001 typ host',
      'a=candidate:3 1 udp 1 ::1 1002 typ host',
      'a=end',
    ].join('\r\n');
    expect(filterSdp(loopbackOnly, sdp)).toBe(['v=0', 'a=candidate:1 1 udp 1 127.0.0.1 1000 typ host', 'a=candidate:3 1 udp 1 ::1 1002 typ host', 'a=end'].join('\r\n'));
    expect(filterSdp(undefined, sdp)).toBe(sdp);
  });

  it('adds trickled candidates to an SDP once, after what it already lists', () => {
    const sdp = 'v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=candidate:1 1 udp 1 127.0.0.1 1000 typ host\r\n';
    const late = 'candidate:2 1 udp 1 ::1 1002 typ host';
    // As libwebrtc trickles a candidate its SDP already lists: the same, with a ufrag added.
    const trickled = 'candidate:1 1 udp 1 127.0.0.1 1000 typ host generation 0 ufrag Ab12';
    const merged = withCandidates(sdp, [trickled, late, late]);
    expect(merged).toBe(`${sdp}a=${late}\r\n`);
    expect(sdpCandidates(merged)).toEqual(['candidate:1 1 udp 1 127.0.0.1 1000 typ host', late]);
    expect(withCandidates('v=0', [late])).toBe(`v=0\r\na=${late}\r\n`);
    expect(withCandidates(sdp, [])).toBe(sdp);
  });
});

describe('ICE restarts and liveness below the channel', () => {
  it('tells a candidate of the current ICE credentials from one trickled before a restart', () => {
    const sdp = 'v=0\r\na=ice-ufrag:new1\r\na=ice-pwd:secret\r\n';
    const line = (ufrag?: string) => `candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host generation 0${ufrag ? ` ufrag ${ufrag}` : ''}`;
    expect(sdpUfrag(sdp)).toBe('new1');
    expect(ofCurrentGeneration(line('new1'), 'new1')).toBe(true);
    expect(ofCurrentGeneration(line('old0'), 'new1')).toBe(false);
    expect(ofCurrentGeneration(line(), 'new1')).toBe(true);
    expect(ofCurrentGeneration(line('old0'), undefined)).toBe(true);
  });

  it('counts DTLS packets apart from ICE checks, over every candidate pair', () => {
    const report = [
      { id: 'p1', type: 'candidate-pair', packetsReceived: 10, requestsReceived: 2, responsesReceived: 3 },
      { id: 'p2', type: 'candidate-pair', requestsReceived: 1 },
      { id: 't', type: 'transport', packetsReceived: 99 },
    ];
    expect(packetsFromPeer(report)).toEqual({ data: 10, checks: 6 });
  });
});
