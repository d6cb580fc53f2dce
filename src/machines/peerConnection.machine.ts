/**
 * One actor per remote node: negotiates a data channel through signed signals, checks that the DTLS
 * handshake used the certificate the peer signed for, and ends with the reason it closed.
 *
 * `idle → offering (initiator) | answering (responder) → connecting → verifying → connected → closing → closed`;
 * a connected peer that falls silent goes `recovering` (an ICE restart) and back, or closes.
 */
import { assign, sendParent, sendTo, setup, spawnChild, stopChild } from 'xstate';
import {
  webrtcTransport,
  type TransportCommand,
  type TransportEvent,
  type TransportInput,
} from '../services/webrtcTransport.js';
import type { RouteInfo } from '../webrtc/fingerprint.js';
import { NO_CANDIDATES, countCandidate, diagnoseIceFailure, type CandidateTally } from '../webrtc/iceDiagnosis.js';
import type { SignalData, VerifiedSignal } from '../wire/envelope.js';
import type { ProtocolError } from '../wire/protocol.js';

/**
 * Why a peer actor ended; `busy`: the peer refused our offer while negotiating too many others (retry
 * later); `peer-lost`: an open connection fell silent (the peer died, froze or lost its network);
 * `signaling-lost`: the signaling connection dropped before the offer and answer were exchanged.
 * `replaced` is the node's word for a connection whose actor adopted a new session the peer offered
 * (it restarted, or reconnected first); the actor itself goes on to answer it.
 */
export type CloseReason =
  | 'closed'
  | 'timeout'
  | 'ice-failed'
  | 'peer-lost'
  | 'replaced'
  | 'rejected'
  | 'busy'
  | 'signaling-lost'
  | 'auth'
  | 'error';

/** The states of a peer whose data channel is open: heard (`connected`), or silent and being repaired. */
export const ESTABLISHED_STATES: ReadonlySet<string> = new Set(['connected', 'recovering']);

/** The reject code of a node that refuses offers while too many of its peers negotiate. */
export const BUSY_CODE = 'ERR_BUSY';

/** Every state that waits has its own limit, in milliseconds. */
export interface PeerTimeouts {
  /** Initiator: from sending the offer to receiving the answer. */
  offer: number;
  /** Responder: to produce the answer. */
  answer: number;
  /** Both: from the SDP exchange to an open data channel (ICE + DTLS + SCTP). */
  ice: number;
  /** Both: reading the DTLS certificate and route from getStats(). */
  verify: number;
  /** Closing: for the peer to acknowledge everything we sent, or to close after we acknowledged its end. */
  flush: number;
}

export interface PeerInput {
  localId: string;
  remoteId: string;
  role: 'initiator' | 'responder';
  session: string;
  /** The responder's opening signal. */
  offer?: SignalData;
  timeouts: PeerTimeouts;
  transport: Omit<TransportInput, 'initiator' | 'remoteId'>;
}

export interface PeerContext extends PeerInput {
  /** This session's candidates, ours and the peer's, for the diagnosis if ICE fails. */
  candidates: CandidateTally;
  route?: RouteInfo;
  /** While recovering: what the transport saw when the connection stalled. */
  stall?: string;
  reason?: CloseReason;
  detail?: string;
  undelivered?: number;
}

export interface PeerOutput {
  remoteId: string;
  reason: CloseReason;
  detail?: string;
  /**
   * Set when closing did not flush (the peer did not acknowledge the end of the stream in time): the
   * bytes accepted by `send()` that never left this node; bytes in flight may be lost as well.
   */
  undelivered?: number;
}

export type PeerEvent =
  | { type: 'SIGNAL.IN'; signal: VerifiedSignal }
  | { type: 'SIGNAL.FAILED'; session: string; error: ProtocolError }
  /** The node's signaling connection dropped (it reconnects on its own). */
  | { type: 'SIGNALING.LOST' }
  /** Close; with `force`, at once, without flushing what was accepted. */
  | { type: 'CLOSE'; force?: boolean }
  | TransportEvent;

/** What a peer actor asks its parent to signal. */
export type PeerSignal = { type: 'PEER.SIGNAL'; to: string; session: string; data: SignalData };

type SignalIn = Extract<PeerEvent, { type: 'SIGNAL.IN' }>;

/** How much longer than `flush` a closing actor waits for its transport before closing anyway. */
export const CLOSE_GRACE_MS = 1000;

/** The detail of a `signaling-lost` close. */
export const SIGNALING_LOST_DETAIL = 'the signaling connection dropped before the offer was answered; retry once it is back';

/** The detail of a `busy` close. */
export const BUSY_DETAIL = 'the peer is negotiating too many connections at once; retry later';

const isSignal = (event: PeerEvent, kind: VerifiedSignal['kind']): event is SignalIn =>
  event.type === 'SIGNAL.IN' && event.signal.kind === kind;

/** Transitions on incoming signals that every open state shares; states put their own first. */
const onCandidate = { guard: 'isCandidate', actions: ['countCandidate', 'forwardToTransport'] } as const;
const onRejection = { guard: 'isRejection', target: '#peer.closed', actions: 'closeOnRejection' } as const;
const onNewOffer = { guard: 'isNewOffer', target: '#peer.answering', reenter: true, actions: 'adoptOffer' } as const;
const onOtherSignal = { actions: 'dropSignal' } as const;
/** An ICE restart of the current session: the initiator's offer, the responder's answer, or the responder's request. */
const onRestartSignal = { guard: 'isRestartSignal', actions: ['countCandidate', 'forwardToTransport'] } as const;
const whileOpen = { 'SIGNAL.IN': [onCandidate, onRejection, onNewOffer, onOtherSignal] } as const;
/** A new session's tally: the candidates the peer's offer carries (see webrtcTransport). */
const offerTally = (offer: SignalData): CandidateTally => countCandidate(NO_CANDIDATES, 'remote', offer);
/**
 * Offering or answering, the SDP exchange needs the server: the offer or answer may be lost with the
 * connection. The reject is queued and reaches the peer once signaling is back, so it stops waiting.
 */
const onSignalingLost = {
  target: '#peer.closed',
  actions: [{ type: 'closeWith', params: { reason: 'signaling-lost', detail: SIGNALING_LOST_DETAIL } }, 'sayReject'],
} as const;
/** Our transport's signals go to the peer; its candidates are counted on the way. */
const onLocalSignal = { actions: ['countCandidate', 'signalOut'] } as const;
/** What a connected or recovering peer does alike: the data channel is open, whether or not it is heard. */
const whileEstablished = {
  'SIGNAL.IN': [
    // A rejection now is the peer closing: it said goodbye rather than refused us.
    { guard: 'isRejection', target: '#peer.closed', actions: { type: 'closeWith', params: { reason: 'closed', detail: 'peer said goodbye' } } },
    onCandidate,
    onRestartSignal,
    onNewOffer,
    onOtherSignal,
  ],
  // Data flows directly now; a late candidate or restart signal the server could not deliver changes nothing.
  'SIGNAL.FAILED': { actions: 'dropSignal' },
  // A restart re-reads the route, and checks the certificate against the pin again.
  'TRANSPORT.VERIFIED': { actions: 'setRoute' },
  'TRANSPORT.CLOSED': { target: '#peer.closed', actions: { type: 'closeWith', params: { reason: 'closed' } } },
  'TRANSPORT.LOST': { target: '#peer.closed', actions: 'closeOnLost' },
  'TRANSPORT.REMOTE_END': { target: '#peer.closing', actions: { type: 'closeWith', params: { reason: 'closed', detail: 'the peer ended the connection' } } },
  CLOSE: [
    { guard: 'isForced', target: '#peer.closed', actions: { type: 'closeWith', params: { reason: 'closed' } } },
    { target: '#peer.closing', actions: 'endTransport' },
  ],
} as const;

/**
 * One peer connection's statechart; its only IO is the `transport` actor, replaceable with `.provide()`.
 *
 * @example
 * ```ts
 * const peer = createActor(peerConnectionMachine.provide({ actors: { transport: fakeTransport } }), { input });
 * ```
 */
export const peerConnectionMachine = setup({
  types: {
    input: {} as PeerInput,
    context: {} as PeerContext,
    events: {} as PeerEvent,
    output: {} as PeerOutput,
  },
  actors: { transport: webrtcTransport },
  delays: {
    offerTimeout: ({ context }) => context.timeouts.offer,
    answerTimeout: ({ context }) => context.timeouts.answer,
    iceTimeout: ({ context }) => context.timeouts.ice,
    verifyTimeout: ({ context }) => context.timeouts.verify,
    closeTimeout: ({ context }) => context.timeouts.flush + CLOSE_GRACE_MS,
  },
  guards: {
    isInitiator: ({ context }) => context.role === 'initiator',
    isAnswer: ({ context, event }) => isSignal(event, 'answer') && event.signal.session === context.session,
    isCandidate: ({ context, event }) => isSignal(event, 'candidate') && event.signal.session === context.session,
    isRejection: ({ context, event }) => isSignal(event, 'reject') && event.signal.session === context.session,
    /**
     * A signed offer opening another session: the peer restarted, or both sides offered at once. An
     * offer later in a session we are not in restarts ICE in one that ended here: stale, dropped.
     */
    isNewOffer: ({ context, event }) => isSignal(event, 'offer') && event.signal.seq === 0 && event.signal.session !== context.session,
    /** Glare: both sides offered. The smaller node id keeps its offer, so both sides pick the same one. */
    remoteWinsGlare: ({ context, event }) =>
      isSignal(event, 'offer') && event.signal.seq === 0 && event.signal.session !== context.session && context.remoteId < context.localId,
    isRestartSignal: ({ context, event }) =>
      event.type === 'SIGNAL.IN' && event.signal.session === context.session && ['offer', 'answer', 'restart'].includes(event.signal.kind),
    isLocalAnswer: ({ event }) => event.type === 'TRANSPORT.SIGNAL' && event.data.type === 'answer',
    /** A signal of this session went undelivered; one of an earlier session no longer matters. */
    isCurrentFailure: ({ context, event }) => event.type === 'SIGNAL.FAILED' && event.session === context.session,
    isForced: ({ event }) => event.type === 'CLOSE' && event.force === true,
  },
  actions: {
    startTransport: spawnChild('transport', {
      id: 'transport',
      input: ({ context }) => ({ ...context.transport, remoteId: context.remoteId, initiator: context.role === 'initiator' }),
    }),
    stopTransport: stopChild('transport'),
    feedOffer: sendTo('transport', ({ context }): TransportCommand => ({ type: 'REMOTE_SIGNAL', data: context.offer! })),
    adoptOffer: assign(({ event }) => {
      const { signal } = event as SignalIn;
      return { role: 'responder' as const, session: signal.session, offer: signal.data, candidates: offerTally(signal.data) };
    }),
    forwardToTransport: sendTo('transport', ({ event }): TransportCommand => ({
      type: 'REMOTE_SIGNAL',
      data: (event as SignalIn).signal.data,
    })),
    countCandidate: assign({
      candidates: ({ context, event }) => {
        if (event.type === 'TRANSPORT.SIGNAL') return countCandidate(context.candidates, 'local', event.data);
        if (event.type === 'SIGNAL.IN') return countCandidate(context.candidates, 'remote', event.signal.data);
        return context.candidates;
      },
    }),
    requestVerification: sendTo('transport', { type: 'VERIFY' } satisfies TransportCommand),
    restartTransport: sendTo('transport', { type: 'RESTART' } satisfies TransportCommand),
    noteStall: assign({ stall: ({ event }) => (event.type === 'TRANSPORT.STALLED' ? event.detail : undefined) }),
    forgetStall: assign({ stall: undefined }),
    endTransport: sendTo('transport', ({ context }): TransportCommand => ({ type: 'END', timeoutMs: context.timeouts.flush })),
    signalOut: sendParent(({ context, event }): PeerSignal => ({
      type: 'PEER.SIGNAL',
      to: context.remoteId,
      session: context.session,
      data: (event as Extract<TransportEvent, { type: 'TRANSPORT.SIGNAL' }>).data,
    })),
    /** Tells the peer we gave up, so it stops waiting instead of running into its own timeout. */
    sayReject: sendParent(({ context }): PeerSignal => ({
      type: 'PEER.SIGNAL',
      to: context.remoteId,
      session: context.session,
      data: { type: 'reject', code: context.reason ?? 'closed' },
    })),
    closeWith: assign((_, params: { reason: CloseReason; detail?: string }) => ({
      reason: params.reason,
      detail: params.detail,
    })),
    closeOnIceTimeout: assign(({ context }) => ({
      reason: 'ice-failed' as const,
      detail: diagnoseIceFailure({ timeoutMs: context.timeouts.ice }, context.candidates),
    })),
    /** The peer gave up on ICE first (its timer started before ours): that is our ICE failure too. */
    closeOnRejection: assign(({ context, event }) => {
      const { data } = (event as SignalIn).signal;
      if (data.type === 'reject' && data.code === 'ice-failed') {
        return { reason: 'ice-failed' as const, detail: diagnoseIceFailure({ message: 'the peer found no working candidate pair' }, context.candidates) };
      }
      // Told apart from other refusals: unlike them, it is worth retrying soon.
      if (data.type === 'reject' && data.code === BUSY_CODE) return { reason: 'busy' as const, detail: BUSY_DETAIL };
      return { reason: 'rejected' as const, detail: undefined };
    }),
    closeWithEvent: assign(({ context, event }) => {
      switch (event.type) {
        case 'TRANSPORT.ERROR':
          return {
            reason: event.reason,
            detail: event.reason === 'ice-failed' ? diagnoseIceFailure({ message: event.message }, context.candidates) : event.message,
          };
        case 'TRANSPORT.AUTH_FAILED':
          return { reason: 'auth' as const, detail: event.message };
        case 'SIGNAL.FAILED':
          return { reason: 'rejected' as const, detail: `${event.error.code}: ${event.error.message}` };
        default:
          return { reason: 'error' as const, detail: event.type };
      }
    }),
    closeOnLost: assign(({ event }) => ({
      reason: 'peer-lost' as const,
      detail: event.type === 'TRANSPORT.LOST' ? event.detail : undefined,
    })),
    /** Our end of the stream finished: acknowledged by the peer, or not (then `unsent` bytes never left). */
    closeOnEnded: assign(({ event }) => {
      if (event.type !== 'TRANSPORT.ENDED' || event.acknowledged) return { reason: 'closed' as const, undelivered: undefined, detail: undefined };
      return {
        reason: 'closed' as const,
        undelivered: event.unsent,
        detail: `the peer did not acknowledge everything before the flush timeout; ${event.unsent} bytes never left`,
      };
    }),
    setRoute: assign({
      route: ({ context, event }) => (event.type === 'TRANSPORT.VERIFIED' || event.type === 'TRANSPORT.RECOVERED' ? event.route : context.route),
    }),
    dropSignal: ({ context, event }) =>
      context.transport.logger.warn(
        { peer: context.remoteId, kind: event.type === 'SIGNAL.IN' ? event.signal.kind : event.type },
        'ignoring a signal that does not fit the connection state',
      ),
  },
}).createMachine({
  id: 'peer',
  context: ({ input }) => ({ ...input, candidates: input.offer ? offerTally(input.offer) : NO_CANDIDATES }),
  initial: 'idle',
  on: {
    'TRANSPORT.SIGNAL': onLocalSignal,
    'TRANSPORT.ERROR': { target: '.closed', actions: 'closeWithEvent' },
    'TRANSPORT.AUTH_FAILED': { target: '.closed', actions: 'closeWithEvent' },
    'TRANSPORT.CLOSED': { target: '.closed', actions: { type: 'closeWith', params: { reason: 'error', detail: 'channel closed during negotiation' } } },
    'SIGNAL.FAILED': [{ guard: 'isCurrentFailure', target: '.closed', actions: 'closeWithEvent' }, { actions: 'dropSignal' }],
    CLOSE: { target: '.closed', actions: [{ type: 'closeWith', params: { reason: 'closed' } }, 'sayReject'] },
  },
  states: {
    idle: {
      always: [{ guard: 'isInitiator', target: 'offering' }, { target: 'answering' }],
    },
    offering: {
      entry: 'startTransport',
      on: {
        'SIGNAL.IN': [
          // Offers and answers carry the candidates gathered with them (see webrtcTransport).
          { guard: 'isAnswer', target: 'connecting', actions: ['countCandidate', 'forwardToTransport'] },
          { guard: 'remoteWinsGlare', target: 'answering', actions: 'adoptOffer' },
          onCandidate,
          onRejection,
          onOtherSignal,
        ],
        'SIGNALING.LOST': onSignalingLost,
      },
      after: {
        offerTimeout: { target: 'closed', actions: [{ type: 'closeWith', params: { reason: 'timeout', detail: 'no answer' } }, 'sayReject'] },
      },
    },
    answering: {
      entry: ['stopTransport', 'startTransport', 'feedOffer'],
      on: {
        ...whileOpen,
        'TRANSPORT.SIGNAL': [{ guard: 'isLocalAnswer', target: 'connecting', actions: ['countCandidate', 'signalOut'] }, onLocalSignal],
        'SIGNALING.LOST': onSignalingLost,
      },
      after: {
        answerTimeout: { target: 'closed', actions: [{ type: 'closeWith', params: { reason: 'timeout', detail: 'no local answer' } }, 'sayReject'] },
      },
    },
    connecting: {
      on: {
        ...whileOpen,
        'TRANSPORT.OPEN': 'verifying',
      },
      after: {
        iceTimeout: { target: 'closed', actions: ['closeOnIceTimeout', 'sayReject'] },
      },
    },
    verifying: {
      entry: 'requestVerification',
      on: {
        ...whileOpen,
        'TRANSPORT.VERIFIED': { target: 'connected', actions: 'setRoute' },
      },
      after: {
        verifyTimeout: { target: 'closed', actions: [{ type: 'closeWith', params: { reason: 'timeout', detail: 'DTLS verification' } }, 'sayReject'] },
      },
    },
    connected: {
      on: {
        ...whileEstablished,
        'TRANSPORT.STALLED': { target: 'recovering', actions: 'noteStall' },
      },
    },
    /** Nothing heard for half the heartbeat timeout: an ICE restart runs until the peer is heard again or lost. */
    recovering: {
      entry: 'restartTransport',
      exit: 'forgetStall',
      on: {
        ...whileEstablished,
        'TRANSPORT.RECOVERED': { target: 'connected', actions: 'setRoute' },
      },
    },
    /** Everything accepted is sent and the peer acknowledges it (we closed), or we acknowledged its end and wait for it to close. */
    closing: {
      on: {
        'TRANSPORT.ENDED': { target: 'closed', actions: 'closeOnEnded' },
        'TRANSPORT.CLOSED': { target: 'closed' },
        'TRANSPORT.LOST': { target: 'closed', actions: 'closeOnLost' },
        // Both ended at once: our own end is under way and the peer acknowledges it too.
        'TRANSPORT.REMOTE_END': {},
        'SIGNAL.IN': [{ guard: 'isRejection', target: 'closed' }, onOtherSignal],
        'SIGNAL.FAILED': { actions: 'dropSignal' },
        CLOSE: [{ guard: 'isForced', target: 'closed' }, {}],
      },
      after: {
        closeTimeout: { target: 'closed', actions: { type: 'closeWith', params: { reason: 'closed', detail: 'the transport did not finish closing in time' } } },
      },
    },
    closed: {
      type: 'final',
    },
  },
  output: ({ context }) => ({
    remoteId: context.remoteId,
    reason: context.reason ?? 'closed',
    detail: context.detail,
    ...(context.undelivered === undefined ? {} : { undelivered: context.undelivered }),
  }),
});
