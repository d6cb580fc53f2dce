/**
 * What of our connection's own signals goes to the peer, and when: the first candidates travel inside
 * the offer or answer of their ICE credentials (also those gathered before it was created), and
 * candidates already in that SDP are not trickled again.
 */
import type { SignalData } from '../wire/envelope.js';
import {
  acceptsCandidate,
  candidateKey,
  filterSdp,
  ofCurrentGeneration,
  sdpCandidates,
  sdpUfrag,
  withCandidates,
  type CandidateFilter,
} from './candidates.js';

/**
 * How long an offer or answer waits for our first candidates, which then travel inside it. Sent
 * apart, a candidate reached the far end 2–4 ms after the SDP in the setup bench (the far end was
 * busy applying the SDP), and ICE cannot start without it. Host candidates come within a
 * millisecond, so this cap only matters when none passes the candidate filter; later candidates
 * (srflx, relay) trickle as before.
 */
export const SDP_HOLD_MS = 10;

/** A signal as simple-peer emits it (only the fields read here). */
export interface RawSignal {
  type?: string;
  sdp?: string;
  candidate?: { candidate: string; sdpMLineIndex?: number | null; sdpMid?: string | null };
}

function accepted(data: RawSignal, filter: CandidateFilter | undefined): SignalData | undefined {
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
  // simple-peer's renegotiation and transceiver requests: a data-only connection never makes them (a
  // responder asks for an ICE restart with a 'restart' signal of its own).
  return undefined;
}

/**
 * Turns the signals of one connection into what the peer is sent, through `emit`.
 *
 * @example
 * ```ts
 * const out = new OutgoingSignals(filter, (data) => signalToPeer(data));
 * peer.on('signal', (data) => out.push(data));
 * // on close: out.cancel();
 * ```
 */
export class OutgoingSignals {
  #held: { data: Extract<SignalData, { sdp: string }>; candidates: string[]; timer: NodeJS.Timeout } | undefined;
  /** Candidates the peer already has from our latest SDP; simple-peer trickles them all the same. */
  readonly #inSdp = new Set<string>();
  /** Whether we made an SDP yet, its ICE credentials, and candidates gathered for newer ones before their SDP. */
  #sdpMade = false;
  #ufrag: string | undefined;
  #early: string[] = [];

  constructor(
    private readonly filter: CandidateFilter | undefined,
    private readonly emit: (data: SignalData) => void,
  ) {}

  /** Takes one signal of ours: holds an SDP for its first candidates, passes the rest on unless the peer has it. */
  push(raw: RawSignal): void {
    const signal = accepted(raw, this.filter);
    if (!signal) return;
    if (signal.type === 'offer' || signal.type === 'answer') {
      // libwebrtc gathers from setLocalDescription() on, so some candidates can come before their SDP.
      this.#sdpMade = true;
      this.#ufrag = sdpUfrag(signal.sdp);
      const early = this.#early.filter((line) => ofCurrentGeneration(line, this.#ufrag));
      this.#early = [];
      this.#held = { data: signal, candidates: early, timer: setTimeout(() => this.#release(), SDP_HOLD_MS) };
      return;
    }
    if (signal.type !== 'candidate') return this.emit(signal);
    const line = signal.candidate.candidate;
    if (!this.#sdpMade || !ofCurrentGeneration(line, this.#ufrag)) {
      this.#early.push(line); // its SDP is still to come
    } else if (this.#held) {
      // The host candidates are gathered together, right after the SDP: release once this burst is in.
      if (this.#held.candidates.length === 0) setImmediate(() => this.#release());
      this.#held.candidates.push(line);
    } else if (!this.#inSdp.has(candidateKey(line))) {
      this.emit(signal);
    }
  }

  /** Drops a held SDP: the connection is closing. */
  cancel(): void {
    if (this.#held) clearTimeout(this.#held.timer);
    this.#held = undefined;
  }

  #release(): void {
    if (!this.#held) return;
    const { data, candidates, timer } = this.#held;
    this.#held = undefined;
    clearTimeout(timer);
    const sdp = withCandidates(data.sdp, candidates);
    // An ICE restart's SDP starts a new generation: only its own candidates are known to the peer.
    this.#inSdp.clear();
    for (const line of sdpCandidates(sdp)) this.#inSdp.add(candidateKey(line));
    this.emit({ type: data.type, sdp });
  }
}
