/**
 * Abstract test model of the node supervisor (src/machines/node.machine.ts), for `createTestModel`.
 *
 * Its events are what the supervisor's environment does: the user, the signaling actor's notices,
 * signals from remote nodes, and peer actors that emit, finish or crash. Peers are counted, not named
 * (0..MAX_PEERS), so the state space stays finite; `known` means "a node we have an actor for" (the
 * test picks the oldest), `unknown` one we have none for. `did` is the model's verdict on each step —
 * what the test must then find the real supervisor to have done.
 *
 * `START.DHT` starts a node that runs the DHT: the overlay then asks for connections, delivers
 * signals, and carries the signals of peers whose session runs through it (each peer is remembered
 * as routed or not, oldest first) and of every peer while the server is away.
 */
import { assign, setup } from 'xstate';

/** Two, not one: with two peers the test can tell routing to the right actor from routing to any. */
export const MAX_PEERS = 2;
/**
 * Offers are refused as busy from one negotiating peer on, and as beyond the peer limit from two, so
 * both refusals are reachable. No peer ever connects here (its transport only does what a step says),
 * so every live peer is negotiating.
 */
export const MAX_NEGOTIATING = 1;

export type Which = 'known' | 'unknown';

export type NodeModelEvent =
  | { type: 'START' }
  | { type: 'START.DHT' }
  | { type: 'STOP' }
  | { type: 'SIGNALING.REGISTERED' }
  | { type: 'SIGNALING.LOST' }
  | { type: 'SIGNALING.GAVE_UP' }
  | { type: 'USER.CONNECT'; peer: Which }
  | { type: 'USER.DISCONNECT'; peer: Which }
  | { type: 'REMOTE.OFFER'; peer: Which }
  /** A non-offer signal (an ICE candidate): routed to a known peer, a stray from anyone else. */
  | { type: 'REMOTE.CANDIDATE'; peer: Which }
  /** The signaling server could not deliver one of our signals to that node. */
  | { type: 'SIGNAL.FAILED'; peer: Which }
  /** The known peer's transport produces a signal for the remote side. */
  | { type: 'PEER.SIGNAL' }
  /** The known peer's transport closes during negotiation, so the peer actor finishes. */
  | { type: 'PEER.DONE' }
  /** The known peer's transport throws, so the peer actor fails. */
  | { type: 'PEER.ERROR' }
  /** The DHT asks for a connection to a node it found (through the overlay). */
  | { type: 'OVERLAY.CONNECT'; peer: Which }
  /** An offer that came through the overlay. */
  | { type: 'OVERLAY.OFFER'; peer: Which }
  /** The overlay found no route for one of our signals. */
  | { type: 'OVERLAY.FAILED'; peer: Which }
  /** The DHT lost every link and asks to join again. */
  | { type: 'OVERLAY.BOOTSTRAP' };

const PEER_EVENT_TYPES = ['USER.CONNECT', 'USER.DISCONNECT', 'REMOTE.OFFER', 'REMOTE.CANDIDATE', 'SIGNAL.FAILED'] as const;
const OVERLAY_PEER_EVENT_TYPES = ['OVERLAY.CONNECT', 'OVERLAY.OFFER', 'OVERLAY.FAILED'] as const;

/** Every event the model can be offered; `canHappen` says when. */
export const NODE_MODEL_EVENTS: NodeModelEvent[] = [
  { type: 'START' },
  { type: 'START.DHT' },
  { type: 'STOP' },
  { type: 'SIGNALING.REGISTERED' },
  { type: 'SIGNALING.LOST' },
  { type: 'SIGNALING.GAVE_UP' },
  ...(['known', 'unknown'] as const).flatMap((peer) => PEER_EVENT_TYPES.map((type) => ({ type, peer }))),
  { type: 'PEER.SIGNAL' },
  { type: 'PEER.DONE' },
  { type: 'PEER.ERROR' },
  ...(['known', 'unknown'] as const).flatMap((peer) => OVERLAY_PEER_EVENT_TYPES.map((type) => ({ type, peer }))),
  { type: 'OVERLAY.BOOTSTRAP' },
];

/** Nothing can concern a known peer, or come from one, while there is none; nothing comes from an overlay a node does not run. */
export function canHappen({ context }: { context: NodeModelContext }, event: NodeModelEvent): boolean {
  const needsPeer = event.type.startsWith('PEER.') || ('peer' in event && event.peer === 'known');
  if (event.type.startsWith('OVERLAY.') && !context.dht) return false;
  return context.peers.length > 0 || !needsPeer;
}

/** What the supervisor must visibly have done on the last step. */
export type Outcome =
  | 'nothing'
  | 'askedSignalingToConnect'
  | 'spawnedInitiator'
  | 'spawnedResponder'
  | 'joinedAttempt'
  | 'refusedConnect'
  | 'refusedOffer'
  | 'refusedBusy'
  | 'routedOffer'
  | 'routedCandidate'
  | 'droppedStray'
  | 'ignoredDisconnect'
  | 'ignoredFailure'
  | 'routedFailure'
  | 'relayedSignal'
  | 'relayedViaOverlay'
  | 'lostSignal'
  | 'spawnedOverlayInitiator'
  | 'spawnedOverlayResponder'
  | 'routedOverlayOffer'
  | 'refusedOverlayConnect'
  | 'refusedOverlayOffer'
  | 'refusedOverlayBusy'
  | 'askedDhtToJoin'
  | 'closedPeer'
  | 'failedNegotiations'
  | 'forgotFinished'
  | 'forgotCrashed'
  | 'recordedSignalingError'
  | 'stoppedEverything';

export interface NodeModelContext {
  /** Live peer actors (0..MAX_PEERS), oldest first: whether each one's session runs through the overlay. */
  peers: boolean[];
  /** The node runs the DHT. */
  dht: boolean;
  did: Outcome;
}

const did = (outcome: Outcome) => ({ type: 'did', params: { outcome } }) as const;
const spawned = (outcome: Outcome, routed = false) => ({ type: 'spawned', params: { outcome, routed } }) as const;
const forgot = (outcome: Outcome) => ({ type: 'forgot', params: { outcome } }) as const;

/** Signals from remote nodes arrive only through a registered signaling session. */
const fromRemote = {
  'REMOTE.OFFER': [
    { guard: 'known', actions: did('routedOffer') },
    { guard: 'full', actions: did('refusedOffer') },
    { guard: 'busy', actions: did('refusedBusy') },
    { actions: spawned('spawnedResponder') },
  ],
  'REMOTE.CANDIDATE': [{ guard: 'known', actions: did('routedCandidate') }, { actions: did('droppedStray') }],
  'SIGNAL.FAILED': [{ guard: 'known', actions: forgot('routedFailure') }, { actions: did('ignoredFailure') }],
} as const;

export const nodeModel = setup({
  types: {
    context: {} as NodeModelContext,
    events: {} as NodeModelEvent,
  },
  guards: {
    known: ({ event }) => 'peer' in event && event.peer === 'known',
    full: ({ context }) => context.peers.length >= MAX_PEERS,
    busy: ({ context }) => context.peers.length >= MAX_NEGOTIATING,
    dht: ({ context }) => context.dht,
    knownRouted: ({ context }) => context.peers[0] === true,
  },
  actions: {
    did: assign((_, params: { outcome: Outcome }) => ({ did: params.outcome })),
    spawned: assign(({ context }, params: { outcome: Outcome; routed: boolean }) => ({ peers: [...context.peers, params.routed], did: params.outcome })),
    forgot: assign(({ context }, params: { outcome: Outcome }) => ({ peers: context.peers.slice(1), did: params.outcome })),
    /** An offer through the overlay from a known peer: its session now runs through the overlay. */
    rerouted: assign(({ context }) => ({ peers: [true, ...context.peers.slice(1)], did: 'routedOverlayOffer' as const })),
    failedNegotiations: assign({ peers: [], did: 'failedNegotiations' as const }),
    startDht: assign({ dht: true, did: 'askedSignalingToConnect' as const }),
  },
}).createMachine({
  id: 'nodeModel',
  context: { peers: [], dht: false, did: 'nothing' },
  initial: 'idle',
  states: {
    idle: {
      on: {
        START: { target: 'running', actions: did('askedSignalingToConnect') },
        'START.DHT': { target: 'running', actions: 'startDht' },
      },
    },
    running: {
      initial: 'connecting',
      states: {
        connecting: {
          on: {
            'SIGNALING.REGISTERED': [{ guard: 'dht', target: 'online', actions: did('askedDhtToJoin') }, { target: 'online', actions: did('nothing') }],
            'SIGNALING.GAVE_UP': { target: 'signalingFailed', actions: did('recordedSignalingError') },
            'PEER.SIGNAL': [{ guard: 'knownRouted', actions: did('relayedViaOverlay') }, { actions: did('relayedSignal') }],
          },
        },
        online: {
          on: {
            // Every peer here is still negotiating (no transport opens): each fails, and says so once signaling is
            // back; with a DHT, their signals go through the overlay meanwhile.
            'SIGNALING.LOST': [{ guard: 'dht', target: 'offline', actions: did('nothing') }, { target: 'offline', actions: 'failedNegotiations' }],
            'PEER.SIGNAL': [{ guard: 'knownRouted', actions: did('relayedViaOverlay') }, { actions: did('relayedSignal') }],
            'OVERLAY.BOOTSTRAP': { actions: did('askedDhtToJoin') },
            'SIGNALING.GAVE_UP': { target: 'signalingFailed', actions: did('recordedSignalingError') },
            ...fromRemote,
          },
        },
        offline: {
          on: {
            'SIGNALING.REGISTERED': [{ guard: 'dht', target: 'online', actions: did('askedDhtToJoin') }, { target: 'online', actions: did('nothing') }],
            'PEER.SIGNAL': [{ guard: 'dht', actions: did('relayedViaOverlay') }, { actions: did('relayedSignal') }],
            'SIGNALING.GAVE_UP': { target: 'signalingFailed', actions: did('recordedSignalingError') },
          },
        },
        /** Nothing arrives from signaling any more, and nothing sent to it goes anywhere; peers live on. */
        signalingFailed: {
          on: {
            'PEER.SIGNAL': [{ guard: 'dht', actions: did('relayedViaOverlay') }, { actions: did('lostSignal') }],
          },
        },
      },
      on: {
        STOP: { target: '#nodeModel.stopped', actions: did('stoppedEverything') },
        'USER.CONNECT': [
          { guard: 'known', actions: did('joinedAttempt') },
          { guard: 'full', actions: did('refusedConnect') },
          { actions: spawned('spawnedInitiator') },
        ],
        'USER.DISCONNECT': [{ guard: 'known', actions: forgot('closedPeer') }, { actions: did('ignoredDisconnect') }],
        'PEER.DONE': { actions: forgot('forgotFinished') },
        'PEER.ERROR': { actions: forgot('forgotCrashed') },
        'OVERLAY.CONNECT': [
          { guard: 'known', actions: did('refusedOverlayConnect') },
          { guard: 'full', actions: did('refusedOverlayConnect') },
          { guard: 'busy', actions: did('refusedOverlayConnect') },
          { actions: spawned('spawnedOverlayInitiator', true) },
        ],
        'OVERLAY.OFFER': [
          { guard: 'known', actions: 'rerouted' },
          { guard: 'full', actions: did('refusedOverlayOffer') },
          { guard: 'busy', actions: did('refusedOverlayBusy') },
          { actions: spawned('spawnedOverlayResponder', true) },
        ],
        'OVERLAY.FAILED': [{ guard: 'known', actions: forgot('routedFailure') }, { actions: did('ignoredFailure') }],
      },
    },
    stopped: {
      type: 'final',
    },
  },
});
