import { afterEach, describe, expect, it, vi } from 'vitest';
import { SDP_HOLD_MS, OutgoingSignals, type RawSignal } from '../src/webrtc/outgoingSignals.js';
import type { SignalData } from '../src/wire/envelope.js';

const sdp = (ufrag: string) => `v=0\r\na=ice-ufrag:${ufrag}\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n`;
const host = (port: number, ufrag: string): RawSignal => ({
  candidate: { candidate: `candidate:1 1 udp 2122260223 127.0.0.1 ${port} typ host generation 0 ufrag ${ufrag}`, sdpMLineIndex: 0, sdpMid: '0' },
});
const lines = (data: SignalData) => ('sdp' in data ? data.sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:')) : []);

describe('OutgoingSignals', () => {
  afterEach(() => vi.useRealTimers());

  function outgoing() {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate'] });
    const sent: SignalData[] = [];
    return { out: new OutgoingSignals(undefined, (data) => sent.push(data)), sent };
  }

  it('sends an SDP with the candidates of the burst that follows it, and does not trickle those again', () => {
    const { out, sent } = outgoing();
    out.push({ type: 'offer', sdp: sdp('u1') });
    out.push(host(5000, 'u1'));
    vi.runAllTimers();
    out.push(host(5000, 'u1')); // simple-peer trickles it all the same
    out.push(host(5001, 'u1'));
    expect(sent.map((s) => s.type)).toEqual(['offer', 'candidate']);
    expect(lines(sent[0]!)).toHaveLength(1);
    expect(sent[1]).toMatchObject({ candidate: { candidate: expect.stringContaining(' 5001 ') } });
  });

  it('sends an SDP alone after SDP_HOLD_MS when no candidate comes', () => {
    const { out, sent } = outgoing();
    out.push({ type: 'answer', sdp: sdp('u1') });
    vi.advanceTimersByTime(SDP_HOLD_MS - 1);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([{ type: 'answer', sdp: sdp('u1') }]);
  });

  it('starts afresh with an ICE restart’s SDP: a candidate only the earlier SDP carried is trickled again', () => {
    const { out, sent } = outgoing();
    out.push({ type: 'offer', sdp: sdp('u1') });
    out.push(host(5000, 'u1'));
    vi.runAllTimers();
    out.push({ type: 'offer', sdp: sdp('u2') });
    vi.runAllTimers();
    out.push(host(5000, 'u2'));
    expect(sent.map((s) => s.type)).toEqual(['offer', 'offer', 'candidate']);
  });

  it('sends candidates gathered before their SDP inside it, also those of an ICE restart', () => {
    const { out, sent } = outgoing();
    out.push(host(5000, 'u1'));
    expect(sent).toEqual([]);
    out.push({ type: 'offer', sdp: sdp('u1') });
    vi.runAllTimers();
    expect(lines(sent[0]!)).toEqual([expect.stringContaining(' 5000 ')]);
    out.push(host(5002, 'u2')); // the restart's first candidate, before its offer
    out.push({ type: 'offer', sdp: sdp('u2') });
    vi.runAllTimers();
    expect(sent.map((s) => s.type)).toEqual(['offer', 'offer']);
    expect(lines(sent[1]!)).toEqual([expect.stringContaining(' 5002 ')]);
  });

  it('drops simple-peer’s renegotiation requests, and a held SDP once cancelled', () => {
    const { out, sent } = outgoing();
    out.push({ type: 'renegotiate' });
    out.push({ type: 'offer', sdp: sdp('u1') });
    out.cancel();
    vi.runAllTimers();
    expect(sent).toEqual([]);
  });
});
