/**
 * One WebRTC data channel to one peer, as actor logic: the only file that imports `simple-peer` and
 * `@roamhq/wrtc`. It signals through its parent, pins the peer's DTLS fingerprint from the signed SDP,
 * and hands a verified {@link PeerLink} to the data plane.
 */
import { createRequire } from 'node:module';
import SimplePeer from 'simple-peer';
import { fromCallback } from 'xstate';
import type { DataPlane } from '../data/dataPlane.js';
import { PeerLink, type EndResult } from '../data/link.js';
import type { LinkOptions } from '../data/linkOptions.js';
import type { Logger } from '../log.js';
import { acceptsCandidate, candidateKey, filterSdp, sdpCandidates, withCandidates, type CandidateFilter } from '../webrtc/candidates.js';
import { packetsFromPeer, readDtlsInfo, sameFingerprint, sdpFingerprint, type Fingerprint, type RouteInfo } from '../webrtc/fingerprint.js';
import type { SignalData } from '../wire/envelope.js';
import { connectionClosed } from './nativeCollector.js';

/** An ICE server as RTCPeerConnection takes it. */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface TransportInput {
  remoteId: string;
  initiator: boolean;
  iceServers: IceServer[];
  candidateFilter?: CandidateFilter;
  dataPlane: DataPlane;
  link: LinkOptions;
  logger: Logger;
}

export type TransportCommand =
  | { type: 'REMOTE_SIGNAL'; data: SignalData }
  | { type: 'VERIFY' }
  /** End the data stream: flush, then wait at most `timeoutMs` for the peer's acknowledgement. */
  | { type: 'END'; timeoutMs: number };

export type TransportEvent =
  | { type: 'TRANSPORT.SIGNAL'; data: SignalData }
  | { type: 'TRANSPORT.OPEN' }
  | { type: 'TRANSPORT.VERIFIED'; route: RouteInfo }
  | { type: 'TRANSPORT.AUTH_FAILED'; message: string }
  | { type: 'TRANSPORT.CLOSED' }
  | { type: 'TRANSPORT.ERROR'; reason: 'ice-failed' | 'error'; message: string }
  /** Nothing arrived from the peer for the heartbeat timeout; `detail` says what was seen. */
  | { type: 'TRANSPORT.LOST'; detail: string }
  /** The peer ended its stream and we acknowledged it: it is about to close the connection. */
  | { type: 'TRANSPORT.REMOTE_END' }
  /** Our END finished: acknowledged by the peer, or not, with the bytes that never left. */
  | ({ type: 'TRANSPORT.ENDED' } & EndResult);

/** The parts of simple-peer's internals this file relies on (typed here, nowhere else). */
interface PeerInternals {
  _pc: {
    getStats(): Promise<{ values(): Iterable<Record<string, unknown> & { id: string; type: string }> }>;
    iceConnectionState: string;
  };
  _channel: { send(data: Uint8Array): void; bufferedAmount: number } | null;
  _iceCompleteTimer: NodeJS.Timeout | null;
}

const require = createRequire(import.meta.url);
let wrtc: unknown;
/** Loaded on first use: importing the library must not start libwebrtc. */
function loadWrtc(): unknown {
  return (wrtc ??= require('@roamhq/wrtc'));
}

const STATS_RETRY_MS = 25;

/**
 * How long an offer or answer waits for our first candidates, which then travel inside it. Sent
 * apart, a candidate reached the far end 2–4 ms after the SDP in the setup bench (the far end was
 * busy applying the SDP), and ICE cannot start without it. Host candidates come within a
 * millisecond, so this cap only matters when none passes the candidate filter; later candidates
 * (srflx, relay) trickle as before.
 */
const SDP_HOLD_MS = 10;

const ICE_FAILURES = new Set(['ERR_ICE_CONNECTION_FAILURE', 'ERR_CONNECTION_FAILURE']);

/** Longest wait for simple-peer's 'close' after destroy(); wrtc closes synchronously, so ~10 ms is usual. */
const CLOSE_WAIT_MS = 1000;

/**
 * Tears a peer connection down outside any wrtc callback (libwebrtc crashes when a connection is
 * closed from inside its own handlers) and resolves once simple-peer reports it closed. simple-peer
 * never clears its ICE-complete timer, which would hold the process open for 5 s after the last
 * close, so it is cleared here.
 */
function shutdown(peer: SimplePeer.Instance): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(() => {
      const closed = (): void => {
        clearTimeout(cap);
        connectionClosed();
        resolve();
      };
      const cap = setTimeout(closed, CLOSE_WAIT_MS);
      peer.once('close', closed);
      clearTimeout((peer as unknown as PeerInternals)._iceCompleteTimer ?? undefined);
      peer.destroy();
    }, 0);
  });
}

function localSignal(data: SimplePeer.SignalData, filter: CandidateFilter | undefined): SignalData | undefined {
  if ((data.type === 'offer' || data.type === 'answer') && data.sdp) {
    return { type: data.type, sdp: filterSdp(filter, data.sdp) };
  }
  const candidate = data.candidate;
  if (candidate && acceptsCandidate(filter, candidate.candidate)) {
    return {
      type: 'candidate',
      candidate: { candidate: candidate.candidate, sdpMLineIndex: candidate.sdpMLineIndex, sdpMid: candidate.sdpMid },
    };
  }
  return undefined; // renegotiation and transceiver requests: a data-only connection never needs them
}

/**
 * Actor logic of one simple-peer/wrtc connection. Receives {@link TransportCommand}s, reports
 * {@link TransportEvent}s to its parent, and closes the connection when stopped.
 */
export const webrtcTransport = fromCallback<TransportCommand, TransportInput, TransportEvent>(
  ({ input, sendBack, receive }) => {
    const log = input.logger;
    const filter = input.candidateFilter;
    const peer = new SimplePeer({
      initiator: input.initiator,
      wrtc: loadWrtc() as SimplePeer.Options['wrtc'],
      config: { iceServers: input.iceServers },
      trickle: true,
    });
    const internals = peer as unknown as PeerInternals;
    let pinned: Fingerprint | undefined;
    let link: PeerLink | undefined;
    // sendBack is ignored once the actor stops; this flag ends the work that would lead to it.
    let stopped = false;

    let held: { data: Extract<SignalData, { sdp: string }>; candidates: string[]; timer: NodeJS.Timeout } | undefined;
    // Candidates the peer already has from our SDP; simple-peer trickles them all the same.
    const inSdp = new Set<string>();
    const release = (): void => {
      if (!held) return;
      const { data, candidates, timer } = held;
      held = undefined;
      clearTimeout(timer);
      const sdp = withCandidates(data.sdp, candidates);
      for (const line of sdpCandidates(sdp)) inSdp.add(candidateKey(line));
      sendBack({ type: 'TRANSPORT.SIGNAL', data: { type: data.type, sdp } });
    };
    peer.on('signal', (data) => {
      const signal = localSignal(data, filter);
      if (!signal) return;
      if (signal.type === 'offer' || signal.type === 'answer') {
        held = { data: signal, candidates: [], timer: setTimeout(release, SDP_HOLD_MS) };
      } else if (held && signal.type === 'candidate') {
        // The host candidates are gathered together, right after the SDP: release once this burst is in.
        if (held.candidates.length === 0) setImmediate(release);
        held.candidates.push(signal.candidate.candidate);
      } else if (signal.type !== 'candidate' || !inSdp.has(candidateKey(signal.candidate.candidate))) {
        sendBack({ type: 'TRANSPORT.SIGNAL', data: signal });
      }
    });
    peer.on('connect', () => sendBack({ type: 'TRANSPORT.OPEN' }));
    peer.on('close', () => {
      link?.close(); // settles an END in progress first, with what never left
      sendBack({ type: 'TRANSPORT.CLOSED' });
    });
    peer.on('error', (err: Error & { code?: string }) => {
      sendBack({ type: 'TRANSPORT.ERROR', reason: ICE_FAILURES.has(err.code ?? '') ? 'ice-failed' : 'error', message: err.message });
    });

    const readStats = async () => readDtlsInfo((await internals._pc.getStats()).values());
    /** Packets from the peer on any candidate pair, ICE checks included: evidence of life below the data channel. */
    const packetsHeard = async () => packetsFromPeer((await internals._pc.getStats()).values());
    let heardBelow: number | undefined;
    const verify = async (): Promise<void> => {
      let info = await readStats();
      // Stats can trail the channel's open event; retry until the certificate shows (the machine's
      // verify timeout bounds this). Only a certificate that is present and different is a mismatch.
      while (!info.remote && !stopped) {
        await new Promise((resolve) => setTimeout(resolve, STATS_RETRY_MS));
        info = await readStats();
      }
      if (stopped) return;
      if (!sameFingerprint(pinned, info.remote)) {
        sendBack({
          type: 'TRANSPORT.AUTH_FAILED',
          message: `DTLS certificate ${info.remote?.value ?? 'unknown'} does not match the signed SDP's ${pinned?.value ?? 'none'}`,
        });
        return;
      }
      const channel = internals._channel;
      if (!channel) throw new Error('data channel missing after connect');
      link = new PeerLink(
        { send: (frame) => channel.send(frame), get bufferedAmount() { return channel.bufferedAmount; } },
        (data) => input.dataPlane.deliver(input.remoteId, data),
        { ...input.link, logger: log },
        {
          silent: () => {
            packetsHeard().then((count) => (heardBelow = count), () => (heardBelow = undefined));
          },
          lost: (silentMs) => {
            const confirm = (count: number | undefined): void => {
              if (stopped) return;
              // The channel is silent, but ICE and DTLS still hear the peer: SCTP is only stalled (a lossy path backs off its retransmissions).
              if (count !== undefined && heardBelow !== undefined && count > heardBelow) {
                heardBelow = count;
                log.debug({ peer: input.remoteId, silentMs }, 'data channel silent, but the peer still answers below it');
                return verified.revive();
              }
              const detail = `nothing heard for ${silentMs} ms, on the channel or below it; ICE ${internals._pc.iceConnectionState}`;
              sendBack({ type: 'TRANSPORT.LOST', detail });
            };
            packetsHeard().then(confirm, () => confirm(undefined));
          },
          remoteEnd: () => sendBack({ type: 'TRANSPORT.REMOTE_END' }),
        },
      );
      input.dataPlane.attach(input.remoteId, link);
      const verified = link;
      peer.on('data', (frame: Uint8Array) => verified.receive(frame));
      sendBack({ type: 'TRANSPORT.VERIFIED', route: info.route });
    };

    receive((command) => {
      try {
        if (command.type === 'VERIFY') {
          verify().catch((err: Error) => sendBack({ type: 'TRANSPORT.ERROR', reason: 'error', message: err.message }));
          return;
        }
        if (command.type === 'END') {
          const report = (result: EndResult): void => {
            if (!stopped) sendBack({ type: 'TRANSPORT.ENDED', ...result });
          };
          return link ? link.end(command.timeoutMs, report) : report({ acknowledged: true, unsent: 0 });
        }
        const data = command.data;
        if (data.type === 'offer' || data.type === 'answer') {
          pinned = sdpFingerprint(data.sdp);
          if (!pinned) return sendBack({ type: 'TRANSPORT.AUTH_FAILED', message: 'remote SDP has no single DTLS fingerprint' });
          peer.signal({ type: data.type, sdp: filterSdp(filter, data.sdp) });
        } else if (data.type === 'candidate' && acceptsCandidate(filter, data.candidate.candidate)) {
          peer.signal({ type: 'candidate', candidate: data.candidate } as SimplePeer.SignalData);
        }
      } catch (err) {
        sendBack({ type: 'TRANSPORT.ERROR', reason: 'error', message: (err as Error).message });
      }
    });

    return () => {
      stopped = true;
      if (held) clearTimeout(held.timer);
      held = undefined;
      if (link) input.dataPlane.detach(input.remoteId, link);
      peer.removeAllListeners();
      // simple-peer may still report errors while closing; nobody is listening for them any more.
      peer.on('error', () => {});
      input.dataPlane.trackClose(shutdown(peer));
    };
  },
);
