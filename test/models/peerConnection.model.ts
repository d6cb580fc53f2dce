/**
 * Abstract test model of one peer connection, seen from outside: its states are the real actor's,
 * its events are what the environment does to it (the supervisor spawning it, signals arriving,
 * the transport reporting, the user closing, time passing). No invoke, no `after`: a timeout is the
 * explicit `TIMEOUT` event, and each waiting state names the real timer it stands for in its meta.
 *
 * The model's actions do nothing; they name the effects the real actor must have, so a harness can
 * check them (see {@link effectsOf}). Context stays tiny so the graph is finite: which id is smaller
 * (it decides glare) and, once closed, the output the real actor must end with. Candidates are not
 * counted here (a count would make every trickle a new state): an ICE failure's detail depends on
 * them, so the model names the failure and the harness, which knows what it signaled, words it.
 */
import { assign, setup, transition, type AnyMachineSnapshot, type SnapshotFrom } from 'xstate';
import { BUSY_DETAIL, SIGNALING_LOST_DETAIL, type CloseReason, type PeerTimeouts } from '../../src/machines/peerConnection.machine.js';
import type { ServerErrorCode } from '../../src/wire/protocol.js';
import { modelPaths, type ModelPath as RunnablePath } from './run.js';

/**
 * What ended ICE: the `ice` timer, or the transport reporting `message`. The real detail is then
 * `diagnoseIceFailure` of that failure and of the candidates signaled in the session.
 */
export type ModelIceFailure = 'timeout' | { message: string };

export interface ModelContext {
  /** Our id against the peer's: on glare the smaller id keeps its offer. */
  localId: 'smaller' | 'larger';
  /** The output the real actor must end with. */
  end?: { reason: CloseReason; detail?: string; ice?: ModelIceFailure; undelivered?: number };
  /** While closing: the output it ends with unless the close goes otherwise. */
  pending?: { reason: CloseReason; detail?: string };
}

export type ModelEvent =
  /** The supervisor spawns the actor for connectToNode (initiator) or for an incoming offer (responder). */
  | { type: 'SPAWN.INITIATOR'; localId: ModelContext['localId'] }
  | { type: 'SPAWN.RESPONDER' }
  /** Our transport produced something to signal. */
  | { type: 'LOCAL.OFFER' }
  | { type: 'LOCAL.ANSWER' }
  | { type: 'LOCAL.CANDIDATE' }
  /** Verified signals from the peer, for our current session. */
  | { type: 'REMOTE.ANSWER' }
  | { type: 'REMOTE.CANDIDATE' }
  /** The peer refused or gave up; on ICE (`ice-failed`) that is our ICE failure too; `ERR_BUSY` is worth a retry. */
  | { type: 'REMOTE.REJECT'; code: 'ERR_TOO_MANY_PEERS' | 'ERR_BUSY' | 'ice-failed' }
  /** An offer for a new session: glare while offering, a restarted peer otherwise. */
  | { type: 'REMOTE.NEW_OFFER' }
  /** A late signal of an earlier session. */
  | { type: 'REMOTE.STALE'; kind: 'candidate' | 'reject' | 'restart-offer' }
  /** An ICE restart of our session: the initiator's new offer, or the responder asking for one. */
  | { type: 'REMOTE.RESTART'; kind: 'offer' | 'restart' }
  | { type: 'TRANSPORT.OPEN' }
  | { type: 'TRANSPORT.VERIFIED' }
  | { type: 'TRANSPORT.ERROR'; reason: 'ice-failed' | 'error'; message: string }
  | { type: 'TRANSPORT.AUTH_FAILED'; message: string }
  | { type: 'TRANSPORT.CLOSED' }
  /** The heartbeat found the peer silent half as long as it takes to lose it (or ICE went disconnected). */
  | { type: 'TRANSPORT.STALLED'; detail: string }
  /** The peer is heard again after a stall. */
  | { type: 'TRANSPORT.RECOVERED' }
  /** The heartbeat found the peer silent too long. */
  | { type: 'TRANSPORT.LOST'; detail: string }
  /** The peer ended its stream and our acknowledgement is on its way. */
  | { type: 'TRANSPORT.REMOTE_END' }
  /** Our end of the stream finished: acknowledged, or not, with that many bytes never sent. */
  | { type: 'TRANSPORT.ENDED'; acknowledged: boolean; unsent: number }
  /** The node's signaling connection dropped. */
  | { type: 'SIGNALING.LOST' }
  /** The signaling server could not deliver one of our signals (peer gone, rate limit, no ack), of this or an earlier session. */
  | { type: 'SIGNALING.FAILED'; session: 'current' | 'stale'; code: ServerErrorCode; message: string }
  /** `disconnect()`: flushing by default, at once with `force`. */
  | { type: 'USER.CLOSE'; force?: boolean }
  | { type: 'TIMEOUT' };

/** What the real actor must do besides changing state; the model's actions carry these names. */
export type ModelEffect =
  /** Pass our transport's signal to the parent, for the current session. */
  | 'relay'
  /** Pass the peer's signal to the live transport. */
  | 'forward'
  /** Take the offer's session and answer it with a fresh transport fed that offer. */
  | 'adopt'
  /** Ask the transport to check the DTLS certificate. */
  | 'requestVerification'
  /** Ask the transport to restart ICE. */
  | 'restart'
  /** Keep the route the transport read again (after a stall or a restart). */
  | 'reroute'
  /** Send the peer a reject carrying the close reason, so it stops waiting. */
  | 'tellPeer'
  /** Ask the transport to end the stream, waiting up to the flush timeout for the peer's acknowledgement. */
  | 'endStream'
  /** Nothing at all: a signal that does not fit. */
  | 'drop';

export type ModelSnapshot = SnapshotFrom<typeof peerConnectionModel>;

/** Meta of a waiting state: the real timer that `TIMEOUT` stands for there. */
export interface ModelStateMeta {
  timeout?: keyof PeerTimeouts;
}

/** Model actions only name effects (see ModelEffect); the harness checks them on the real actor. */
const effect = () => {};

const closes = (end: NonNullable<ModelContext['end']>, ...effects: ModelEffect[]) => ({
  target: '#model.closed',
  actions: [{ type: 'ends', params: end } as const, ...effects],
});

/** Shared by every open state; states put their own handling of an event after the spread. */
const whileOpen = {
  'LOCAL.CANDIDATE': { actions: 'relay' },
  'REMOTE.CANDIDATE': { actions: 'forward' },
  'REMOTE.STALE': { actions: 'drop' },
  'REMOTE.RESTART': { actions: 'drop' },
  'SIGNALING.FAILED': { actions: 'drop' },
  'REMOTE.ANSWER': { actions: 'drop' },
  'REMOTE.NEW_OFFER': { target: '#model.answering', reenter: true, actions: 'adopt' },
  'REMOTE.REJECT': [
    { guard: 'peerGaveUpOnIce', ...closes({ reason: 'ice-failed', ice: { message: 'the peer found no working candidate pair' } }) },
    { guard: 'peerIsBusy', ...closes({ reason: 'busy', detail: BUSY_DETAIL }) },
    closes({ reason: 'rejected' }),
  ],
  'TRANSPORT.ERROR': { target: '#model.closed', actions: 'endsWithTransportError' },
  'TRANSPORT.CLOSED': closes({ reason: 'error', detail: 'channel closed during negotiation' }),
  'USER.CLOSE': closes({ reason: 'closed' }, 'tellPeer'),
} as const;

/** Negotiation only: signaling still carries this session's signals; losing one ends the attempt. */
const whileNegotiating = {
  ...whileOpen,
  'SIGNALING.FAILED': [
    { guard: 'currentSession', target: '#model.closed', actions: 'endsWithSignalingFailure' },
    { actions: 'drop' },
  ],
} as const;

/** A remote SDP without a single fingerprint, or a DTLS certificate that is not the signed one. */
const onAuthFailure = { 'TRANSPORT.AUTH_FAILED': { target: '#model.closed', actions: 'endsWithAuthFailure' } } as const;

const giveUp = (end: NonNullable<ModelContext['end']>) => closes(end, 'tellPeer');

/** Connected and recovering alike: the channel is open, heard or not. */
const whileEstablished = {
  ...whileOpen,
  ...onAuthFailure,
  // Restart signals of our session go to the transport (an answer too: it answers our restart offer).
  'REMOTE.ANSWER': { actions: 'forward' },
  'REMOTE.RESTART': { actions: 'forward' },
  'TRANSPORT.VERIFIED': { actions: 'reroute' },
  'REMOTE.REJECT': closes({ reason: 'closed', detail: 'peer said goodbye' }),
  'TRANSPORT.CLOSED': closes({ reason: 'closed' }),
  'TRANSPORT.LOST': { target: '#model.closed', actions: 'endsWithLoss' },
  'TRANSPORT.REMOTE_END': {
    target: '#model.closing',
    actions: { type: 'closesLater', params: { reason: 'closed', detail: 'the peer ended the connection' } },
  },
  // The channel tells the peer (End, or closing at once); no reject signal is needed.
  'USER.CLOSE': [
    { guard: 'forced', ...closes({ reason: 'closed' }) },
    { target: '#model.closing', actions: ['endStream', { type: 'closesLater', params: { reason: 'closed' } }] },
  ],
} as const;

export const peerConnectionModel = setup({
  types: {
    context: {} as ModelContext,
    events: {} as ModelEvent,
    meta: {} as ModelStateMeta,
  },
  guards: {
    remoteWinsGlare: ({ context }) => context.localId === 'larger',
    currentSession: ({ event }) => event.type === 'SIGNALING.FAILED' && event.session === 'current',
    peerGaveUpOnIce: ({ event }) => event.type === 'REMOTE.REJECT' && event.code === 'ice-failed',
    peerIsBusy: ({ event }) => event.type === 'REMOTE.REJECT' && event.code === 'ERR_BUSY',
    forced: ({ event }) => event.type === 'USER.CLOSE' && event.force === true,
  },
  actions: {
    relay: effect,
    forward: effect,
    adopt: effect,
    requestVerification: effect,
    restart: effect,
    reroute: effect,
    tellPeer: effect,
    endStream: effect,
    drop: effect,
    ends: assign((_, end: NonNullable<ModelContext['end']>) => ({ end })),
    closesLater: assign((_, pending: NonNullable<ModelContext['pending']>) => ({ pending })),
    endsAsPending: assign(({ context }) => ({ end: context.pending })),
    endsWithLoss: assign(({ event }) => (event.type === 'TRANSPORT.LOST' ? { end: { reason: 'peer-lost' as const, detail: event.detail } } : {})),
    endsWithFlush: assign(({ event }) => {
      if (event.type !== 'TRANSPORT.ENDED') return {};
      const { acknowledged, unsent } = event;
      if (acknowledged) return { end: { reason: 'closed' as const } };
      const detail = `the peer did not acknowledge everything before the flush timeout; ${unsent} bytes never left`;
      return { end: { reason: 'closed' as const, detail, undelivered: unsent } };
    }),
    endsWithTransportError: assign(({ event }) => {
      if (event.type !== 'TRANSPORT.ERROR') return {};
      const { reason, message } = event;
      return { end: reason === 'ice-failed' ? { reason, ice: { message } } : { reason, detail: message } };
    }),
    endsWithAuthFailure: assign(({ event }) =>
      event.type === 'TRANSPORT.AUTH_FAILED' ? { end: { reason: 'auth' as const, detail: event.message } } : {},
    ),
    endsWithSignalingFailure: assign(({ event }) =>
      event.type === 'SIGNALING.FAILED' ? { end: { reason: 'rejected' as const, detail: `${event.code}: ${event.message}` } } : {},
    ),
  },
}).createMachine({
  id: 'model',
  context: { localId: 'smaller' },
  initial: 'idle',
  states: {
    /** Not spawned yet (the real `idle` is transient: the role picks the first state at once). */
    idle: {
      on: {
        'SPAWN.INITIATOR': { target: 'offering', actions: assign({ localId: ({ event }) => event.localId }) },
        'SPAWN.RESPONDER': { target: 'answering', actions: 'adopt' },
      },
    },
    offering: {
      meta: { timeout: 'offer' },
      on: {
        ...whileNegotiating,
        'LOCAL.OFFER': { actions: 'relay' },
        'REMOTE.ANSWER': { target: 'connecting', actions: 'forward' },
        'REMOTE.NEW_OFFER': [{ guard: 'remoteWinsGlare', target: 'answering', actions: 'adopt' }, { actions: 'drop' }],
        'SIGNALING.LOST': giveUp({ reason: 'signaling-lost', detail: SIGNALING_LOST_DETAIL }),
        TIMEOUT: giveUp({ reason: 'timeout', detail: 'no answer' }),
      },
    },
    answering: {
      meta: { timeout: 'answer' },
      on: {
        ...whileNegotiating,
        ...onAuthFailure,
        'LOCAL.ANSWER': { target: 'connecting', actions: 'relay' },
        'SIGNALING.LOST': giveUp({ reason: 'signaling-lost', detail: SIGNALING_LOST_DETAIL }),
        TIMEOUT: giveUp({ reason: 'timeout', detail: 'no local answer' }),
      },
    },
    connecting: {
      meta: { timeout: 'ice' },
      on: {
        ...whileNegotiating,
        ...onAuthFailure,
        'TRANSPORT.OPEN': 'verifying',
        TIMEOUT: giveUp({ reason: 'ice-failed', ice: 'timeout' }),
      },
    },
    verifying: {
      meta: { timeout: 'verify' },
      entry: 'requestVerification',
      on: {
        ...whileNegotiating,
        ...onAuthFailure,
        'TRANSPORT.VERIFIED': 'connected',
        TIMEOUT: giveUp({ reason: 'timeout', detail: 'DTLS verification' }),
      },
    },
    connected: {
      on: {
        ...whileEstablished,
        'TRANSPORT.STALLED': 'recovering',
      },
    },
    /** An ICE restart, until the peer is heard again; the heartbeat's loss ends it otherwise (no timer of its own). */
    recovering: {
      entry: 'restart',
      on: {
        ...whileEstablished,
        'TRANSPORT.RECOVERED': { target: 'connected', actions: 'reroute' },
      },
    },
    /** Flushing: waiting for the peer to acknowledge our end, or to close after acknowledging its own. */
    closing: {
      meta: { timeout: 'flush' },
      on: {
        'LOCAL.CANDIDATE': { actions: 'relay' },
        'REMOTE.CANDIDATE': { actions: 'drop' },
        'REMOTE.ANSWER': { actions: 'drop' },
        'REMOTE.NEW_OFFER': { actions: 'drop' },
        'REMOTE.STALE': { actions: 'drop' },
        'REMOTE.RESTART': { actions: 'drop' },
        'REMOTE.REJECT': { target: '#model.closed', actions: 'endsAsPending' },
        'SIGNALING.FAILED': { actions: 'drop' },
        'TRANSPORT.ENDED': { target: '#model.closed', actions: 'endsWithFlush' },
        'TRANSPORT.CLOSED': { target: '#model.closed', actions: 'endsAsPending' },
        'TRANSPORT.LOST': { target: '#model.closed', actions: 'endsWithLoss' },
        'TRANSPORT.REMOTE_END': { actions: 'drop' },
        'TRANSPORT.ERROR': { target: '#model.closed', actions: 'endsWithTransportError' },
        'USER.CLOSE': [{ guard: 'forced', target: '#model.closed', actions: 'endsAsPending' }, { actions: 'drop' }],
        TIMEOUT: closes({ reason: 'closed', detail: 'the transport did not finish closing in time' }),
      },
    },
    closed: { type: 'final' },
  },
});

/** The concrete events to explore, for the event types that carry data. */
export const MODEL_EVENTS: ModelEvent[] = [
  { type: 'SPAWN.INITIATOR', localId: 'smaller' },
  { type: 'SPAWN.INITIATOR', localId: 'larger' },
  { type: 'REMOTE.REJECT', code: 'ERR_TOO_MANY_PEERS' },
  { type: 'REMOTE.REJECT', code: 'ERR_BUSY' },
  { type: 'REMOTE.REJECT', code: 'ice-failed' },
  { type: 'REMOTE.STALE', kind: 'candidate' },
  { type: 'REMOTE.STALE', kind: 'reject' },
  { type: 'REMOTE.STALE', kind: 'restart-offer' },
  { type: 'REMOTE.RESTART', kind: 'offer' },
  { type: 'REMOTE.RESTART', kind: 'restart' },
  { type: 'TRANSPORT.STALLED', detail: 'nothing heard for 2000 ms; ICE connected' },
  { type: 'TRANSPORT.ERROR', reason: 'ice-failed', message: 'Ice connection failed.' },
  { type: 'TRANSPORT.ERROR', reason: 'error', message: 'Connection failed.' },
  { type: 'TRANSPORT.AUTH_FAILED', message: 'DTLS certificate does not match the signed SDP' },
  { type: 'SIGNALING.FAILED', session: 'current', code: 'ERR_UNKNOWN_PEER', message: 'no node with that id is connected' },
  { type: 'SIGNALING.FAILED', session: 'stale', code: 'ERR_RATE_LIMITED', message: 'too many events; slow down' },
  { type: 'USER.CLOSE' },
  { type: 'USER.CLOSE', force: true },
  { type: 'TRANSPORT.LOST', detail: 'nothing heard for 4000 ms; ICE connected' },
  { type: 'TRANSPORT.ENDED', acknowledged: true, unsent: 0 },
  { type: 'TRANSPORT.ENDED', acknowledged: false, unsent: 0 },
  { type: 'TRANSPORT.ENDED', acknowledged: false, unsent: 4096 },
];

export type ModelPath = RunnablePath<ModelEvent>;

const changesState = (state: AnyMachineSnapshot, event: ModelEvent) =>
  transition(peerConnectionModel, state as ModelSnapshot, event)[0].value !== state.value;

/** Drops every path whose events begin another path's: the longer one checks all it does. */
function withoutPrefixes(paths: ModelPath[]): ModelPath[] {
  const events = paths.map(({ path }) => path.steps.map((step) => JSON.stringify(step.event)));
  const isPrefix = (a: string[], b: string[]) => a.length < b.length && a.every((event, i) => event === b[i]);
  return paths.filter((_, i) => !events.some((other) => isPrefix(events[i]!, other)));
}

/**
 * The paths the tests run. Simple paths over the whole model explode: the self-loops (signals that
 * keep the state) multiply at every state a path passes, about 2.6 million simple paths from the
 * start. So: shortest paths to every model transition (self-loops included), plus every simple path
 * over the transitions that change state (finite and small), for long histories such as repeated restarts.
 */
export function peerModelPaths(): { paths: ModelPath[]; shortest: number; simple: number } {
  const shortest = modelPaths(peerConnectionModel, { strategy: 'shortest', events: MODEL_EVENTS });
  const simple = modelPaths(peerConnectionModel, { strategy: 'simple', events: MODEL_EVENTS, filter: changesState });
  return { paths: withoutPrefixes([...simple, ...shortest]), shortest: shortest.length, simple: simple.length };
}

const EFFECTS = new Set<string>([
  'relay', 'forward', 'adopt', 'requestVerification', 'restart', 'reroute', 'tellPeer', 'endStream', 'drop',
] satisfies ModelEffect[]);

/** The effects the model says `event` has in `before`, in order (entry effects included). */
export function effectsOf(before: ModelSnapshot, event: ModelEvent): ModelEffect[] {
  const [, actions] = transition(peerConnectionModel, before, event);
  return actions.map((action) => action.type).filter((type): type is ModelEffect => EFFECTS.has(type));
}

/** The real timer that `TIMEOUT` fires in this model state, if it waits for one. */
export function timerOf(snapshot: ModelSnapshot): keyof PeerTimeouts | undefined {
  return Object.values(snapshot.getMeta()).find((meta) => meta?.timeout)?.timeout;
}

const sameEvent = (a: { type: string }, b: { type: string }) => JSON.stringify(a) === JSON.stringify(b);

/**
 * What the model says happens along `events`, read off an enumerated path that starts with them, so
 * a run on real components follows a path the model really generates: the states in order (a
 * self-loop's state once) and, if the path closes, the output the actor must end with.
 */
export function alongPath(paths: ModelPath[], events: ModelEvent[]): { states: string[]; end?: ModelContext['end'] } {
  const found = paths.find(({ path: { steps } }) => events.every((event, i) => steps[i + 1] && sameEvent(steps[i + 1]!.event, event)));
  if (!found) throw new Error(`no model path starts with ${events.map((e) => e.type).join(' → ')}`);
  const steps = found.path.steps.slice(0, events.length + 1) as { state: ModelSnapshot }[];
  const states = steps.map((step) => String(step.state.value));
  return { states: states.filter((state, i) => state !== states[i - 1]), end: steps.at(-1)!.state.context.end };
}
