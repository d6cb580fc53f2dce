/**
 * One WebRTC data channel to one peer, as actor logic: the only file that imports `simple-peer`
 * (on `@roamhq/wrtc` in Node, on the browser's own WebRTC in the browser build). It signals
 * through its parent, pins the peer's DTLS fingerprint from the signed SDP,
 * hands a verified {@link PeerLink} to the data plane, and restarts ICE when the link stalls.
 */
import SimplePeer from 'simple-peer';
import { fromCallback } from 'xstate';
import type { DataPlane } from '../data/dataPlane.js';
import { PeerLink, type EndResult } from '../data/link.js';
import type { LinkOptions } from '../data/linkOptions.js';
import type { Logger } from '../log.js';
import { acceptsCandidate, filterSdp, ofCurrentGeneration, sdpUfrag, type CandidateFilter } from '../webrtc/candidates.js';
import {
  addressOf,
  packetsFromPeer,
  readDtlsInfo,
  sameFingerprint,
  sdpFingerprint,
  type Fingerprint,
  type PacketsHeard,
  type RouteInfo,
} from '../webrtc/fingerprint.js';
import { OutgoingSignals } from '../webrtc/outgoingSignals.js';
import type { SignalData } from '../wire/envelope.js';
import { connectionClosed } from './nativeCollector.js';
import { loadWrtc } from './wrtc.js';

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
  /**
   * Restart ICE: the initiator offers with new ICE credentials; the responder, which cannot offer
   * (simple-peer), signals the initiator to do so.
   */
  | { type: 'RESTART' }
  /** End the data stream: flush, then wait at most `timeoutMs` for the peer's acknowledgement. */
  | { type: 'END'; timeoutMs: number };

export type TransportEvent =
  | { type: 'TRANSPORT.SIGNAL'; data: SignalData }
  | { type: 'TRANSPORT.OPEN' }
  | { type: 'TRANSPORT.VERIFIED'; route: RouteInfo }
  | { type: 'TRANSPORT.AUTH_FAILED'; message: string }
  | { type: 'TRANSPORT.CLOSED' }
  | { type: 'TRANSPORT.ERROR'; reason: 'ice-failed' | 'error'; message: string }
  /** The open link stalled (half the heartbeat timeout without a byte, or ICE `disconnected`); `detail` says which. */
  | { type: 'TRANSPORT.STALLED'; detail: string }
  /** The peer was heard again after a stall; `route` is the path it came by (the certificate checked again). */
  | { type: 'TRANSPORT.RECOVERED'; route: RouteInfo }
  /** Nothing arrived from the peer for the heartbeat timeout; `detail` says what was seen. */
  | { type: 'TRANSPORT.LOST'; detail: string }
  /** The peer ended its stream and we acknowledged it: it is about to close the connection. */
  | { type: 'TRANSPORT.REMOTE_END' }
  /** Our END finished: acknowledged by the peer, or not, with the bytes that never left. */
  | ({ type: 'TRANSPORT.ENDED' } & EndResult);

/** The parts of simple-peer's internals this file relies on (typed here, nowhere else). */
interface PeerInternals {
  /** Null once simple-peer destroyed itself (it drops the connection as it does). */
  _pc: {
    getStats(): Promise<{ values(): Iterable<Record<string, unknown> & { id: string; type: string }> }>;
    iceConnectionState: string;
    signalingState: string;
    restartIce(): void;
  } | null;
  _channel: { send(data: Uint8Array): void; bufferedAmount: number } | null;
  _iceCompleteTimer: NodeJS.Timeout | null;
  /** Set from negotiate() until the signaling state is stable again: an offer of ours awaits its answer. */
  _isNegotiating: boolean;
  negotiate(): void;
}

const STATS_RETRY_MS = 25;

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
    // The peer's current ICE credentials: candidates trickled for earlier ones are dropped.
    let remoteUfrag: string | undefined;
    let link: PeerLink | undefined;
    // sendBack is ignored once the actor stops; this flag ends the work that would lead to it.
    let stopped = false;

    const outgoing = new OutgoingSignals(filter, (data) => sendBack({ type: 'TRANSPORT.SIGNAL', data }));
    peer.on('signal', (data) => outgoing.push(data));
    peer.on('connect', () => sendBack({ type: 'TRANSPORT.OPEN' }));
    peer.on('close', () => {
      link?.close(); // settles an END in progress first, with what never left
      sendBack({ type: 'TRANSPORT.CLOSED' });
    });
    peer.on('error', (err: Error & { code?: string }) => {
      sendBack({ type: 'TRANSPORT.ERROR', reason: ICE_FAILURES.has(err.code ?? '') ? 'ice-failed' : 'error', message: err.message });
    });

    /** The connection's stats; rejects once simple-peer dropped the connection. */
    const stats = async () => {
      if (!internals._pc) throw new Error('the peer connection is closed');
      return (await internals._pc.getStats()).values();
    };
    const readStats = async () => readDtlsInfo(await stats());
    /**
     * Hands `use` the packets heard from the peer so far on any candidate pair (evidence of life below
     * the data channel), or undefined if they cannot be read (the connection is closing); nothing, if
     * the actor stopped while the stats were read.
     */
    const packetsHeard = (use: (count: PacketsHeard | undefined) => void): void => {
      const read = async (): Promise<PacketsHeard> => packetsFromPeer(await stats());
      read().then(
        (count) => stopped || use(count),
        () => stopped || use(undefined),
      );
    };
    let heardBelow: PacketsHeard | undefined;
    /** The ICE state for a log line; simple-peer drops its RTCPeerConnection once it destroyed itself. */
    const iceState = (): string => internals._pc?.iceConnectionState ?? 'closed (peer destroyed)';
    /** The route, once the DTLS certificate in use is the one the peer's signed SDP pinned; undefined if not (reported). */
    const checkCertificate = async (): Promise<RouteInfo | undefined> => {
      let info = await readStats();
      // Stats can trail the channel's open event; retry until the certificate shows (the machine's
      // verify timeout bounds this). Only a certificate that is present and different is a mismatch.
      while (!info.remote && !stopped) {
        await new Promise((resolve) => setTimeout(resolve, STATS_RETRY_MS));
        info = await readStats();
      }
      if (stopped) return undefined;
      if (!sameFingerprint(pinned, info.remote)) {
        sendBack({
          type: 'TRANSPORT.AUTH_FAILED',
          message: `DTLS certificate ${info.remote?.value ?? 'unknown'} does not match the signed SDP's ${pinned?.value ?? 'none'}`,
        });
        return undefined;
      }
      return info.route;
    };

    /** Runs `work` when the peer is next heard on `open`, unless the actor stopped; stats read as the connection closes may fail. */
    const whenHeard = (open: PeerLink, work: () => Promise<void>): void => {
      const failed = (err: Error): void => log.debug({ peer: input.remoteId, err: err.message }, 'reading stats after a stall or restart failed');
      open.nextHeard().then(() => (stopped ? undefined : work())).catch(failed);
    };

    // A stall lasts from TRANSPORT.STALLED until the peer is heard again; `restarted`: ICE was restarted in it.
    let stalled = false;
    let restarted = false;
    const stall = (open: PeerLink, detail: string): void => {
      if (stalled || stopped) return;
      stalled = true;
      sendBack({ type: 'TRANSPORT.STALLED', detail });
      whenHeard(open, async () => {
        const route = await checkCertificate();
        stalled = restarted = false;
        if (route) sendBack({ type: 'TRANSPORT.RECOVERED', route });
      });
    };
    const restartIce = (): void => {
      restarted = true;
      if (!input.initiator) return sendBack({ type: 'TRANSPORT.SIGNAL', data: { type: 'restart' } });
      // One restart offer at a time: an answer to an offer that a newer one replaced would break ICE.
      if (internals._isNegotiating || !internals._pc) return;
      internals._pc.restartIce();
      internals.negotiate();
    };
    // After a restart (ours or the peer's), once the peer is heard on the new path: its route, and the pin again.
    peer.on('negotiated', () => {
      if (!link) return; // the first negotiation: verify() follows the open channel
      whenHeard(link, async () => {
        const route = await checkCertificate();
        if (!route) return;
        log.info({ peer: input.remoteId, route }, 'ICE restarted');
        sendBack({ type: 'TRANSPORT.VERIFIED', route });
      });
    });
    peer.on('iceStateChange', (state: string) => {
      // Only once the peer also missed a beat: ICE alone flaps without harm while data flows.
      if (state === 'disconnected' && link?.silent) stall(link, 'ICE disconnected');
    });

    const verify = async (): Promise<void> => {
      const route = await checkCertificate();
      if (!route) return;
      const channel = internals._channel;
      if (!channel) throw new Error('data channel missing after connect');
      link = new PeerLink(
        { send: (frame) => channel.send(frame), get bufferedAmount() { return channel.bufferedAmount; } },
        (data) => input.dataPlane.deliver(input.remoteId, data),
        { ...input.link, logger: log },
        {
          silent: () => {
            packetsHeard((count) => (heardBelow = count));
          },
          stalled: (silentMs) => {
            const decide = (count: PacketsHeard | undefined): void => {
              // DTLS packets still arrive: SCTP waits on a lost packet (a lossy path); ICE is fine, a restart cannot help.
              if (count && heardBelow && count.data > heardBelow.data) return log.debug({ peer: input.remoteId, silentMs }, 'channel silent, DTLS still heard');
              stall(verified, `nothing heard for ${silentMs} ms; ICE ${iceState()}`);
            };
            packetsHeard(decide);
          },
          lost: (silentMs) => {
            const confirm = (count: PacketsHeard | undefined): void => {
              // The channel is silent, but ICE and DTLS still hear the peer: SCTP is only stalled (a lossy path backs off its retransmissions).
              if (count && heardBelow && count.data + count.checks > heardBelow.data + heardBelow.checks) {
                heardBelow = count;
                log.debug({ peer: input.remoteId, silentMs }, 'data channel silent, but the peer still answers below it');
                return verified.revive();
              }
              const restart = restarted ? '; an ICE restart did not bring it back' : '';
              const detail = `nothing heard for ${silentMs} ms, on the channel or below it; ICE ${iceState()}${restart}`;
              sendBack({ type: 'TRANSPORT.LOST', detail });
            };
            packetsHeard(confirm);
          },
          remoteEnd: () => sendBack({ type: 'TRANSPORT.REMOTE_END' }),
        },
      );
      input.dataPlane.attach(input.remoteId, link, addressOf(route.remote));
      const verified = link;
      peer.on('data', (frame: Uint8Array) => verified.receive(frame));
      sendBack({ type: 'TRANSPORT.VERIFIED', route });
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
        if (command.type === 'RESTART') return link ? restartIce() : undefined;
        const data = command.data;
        if (data.type === 'restart') {
          // The responder asks for a restart; one of ours already under way answers it.
          if (input.initiator && link && !internals._isNegotiating) restartIce();
        } else if (data.type === 'offer' || data.type === 'answer') {
          // Only the initiator offers; an answer is taken only while our offer waits for one.
          const expected = input.initiator ? data.type === 'answer' && internals._pc?.signalingState === 'have-local-offer' : data.type === 'offer';
          if (!expected) return log.warn({ peer: input.remoteId, kind: data.type }, 'ignoring an SDP that answers no offer of ours');
          const fingerprint = sdpFingerprint(data.sdp);
          remoteUfrag = sdpUfrag(data.sdp);
          if (!fingerprint) return sendBack({ type: 'TRANSPORT.AUTH_FAILED', message: 'remote SDP has no single DTLS fingerprint' });
          // A restart keeps the DTLS session: its SDP must commit to the same certificate.
          if (pinned && !sameFingerprint(pinned, fingerprint)) {
            return sendBack({ type: 'TRANSPORT.AUTH_FAILED', message: `an ICE restart's SDP commits to DTLS certificate ${fingerprint.value}, not the pinned ${pinned.value}` });
          }
          pinned = fingerprint;
          peer.signal({ type: data.type, sdp: filterSdp(filter, data.sdp) });
        } else if (data.type === 'candidate' && data.candidate.candidate !== '' && acceptsCandidate(filter, data.candidate.candidate) && ofCurrentGeneration(data.candidate.candidate, remoteUfrag)) {
          // (An empty candidate is end-of-candidates, RFC 8838: nothing here waits for it, so it is dropped.)
          peer.signal({ type: 'candidate', candidate: data.candidate } as SimplePeer.SignalData);
        }
      } catch (err) {
        sendBack({ type: 'TRANSPORT.ERROR', reason: 'error', message: (err as Error).message });
      }
    });

    return () => {
      stopped = true;
      outgoing.cancel();
      if (link) input.dataPlane.detach(input.remoteId, link);
      peer.removeAllListeners();
      // simple-peer may still report errors while closing; nobody is listening for them any more.
      peer.on('error', () => {});
      input.dataPlane.trackClose(shutdown(peer));
    };
  },
);
