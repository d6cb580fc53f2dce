/**
 * Abstract test model of the node supervisor (src/machines/node.machine.ts), for `createTestModel`.
 *
 * Its events are what the supervisor's environment does: the user, the signaling actor's notices,
 * signals from remote nodes, and peer actors that emit, finish or crash. Peers are counted, not named
 * (0..MAX_PEERS), so the state space stays finite; `known` means "a node we have an actor for" (the
 * test picks the oldest), `unknown` one we have none for. `did` is the model's verdict on each step —
 * what the test must then find the real supervisor to have done.
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
  | { type: 'PEER.ERROR' };

const PEER_EVENT_TYPES = ['USER.CONNECT', 'USER.DISCONNECT', 'REMOTE.OFFER', 'REMOTE.CANDIDATE', 'SIGNAL.FAILED'] as const;

/** Every event the model can be offered; `canHappen` says when. */
export const NODE_MODEL_EVENTS: NodeModelEvent[] = [
  { type: 'START' },
  { type: 'STOP' },
  { type: 'SIGNALING.REGISTERED' },
  { type: 'SIGNALING.LOST' },
  { type: 'SIGNALING.GAVE_UP' },
  ...(['known', 'unknown'] as const).flatMap((peer) => PEER_EVENT_TYPES.map((type) => ({ type, peer }))),
  { type: 'PEER.SIGNAL' },
  { type: 'PEER.DONE' },
  { type: 'PEER.ERROR' },
];

/** Nothing can concern a known peer, or come from one, while there is none. */
export function canHappen({ context }: { context: NodeModelContext }, event: NodeModelEvent): boolean {
  const needsPeer = event.type.startsWith('PEER.') || ('peer' in event && event.peer === 'known');
  return context.peers > 0 || !needsPeer;
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
  | 'lostSignal'
  | 'closedPeer'
  | 'failedNegotiations'
  | 'forgotFinished'
  | 'forgotCrashed'
  | 'recordedSignalingError'
  | 'stoppedEverything';

export interface NodeModelContext {
  /** Live peer actors, 0..MAX_PEERS. */
  peers: number;
  did: Outcome;
}

const did = (outcome: Outcome) => ({ type: 'did', params: { outcome } }) as const;
const spawned = (outcome: Outcome) => ({ type: 'spawned', params: { outcome } }) as const;
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
    full: ({ context }) => context.peers >= MAX_PEERS,
    busy: ({ context }) => context.peers >= MAX_NEGOTIATING,
  },
  actions: {
    did: assign((_, params: { outcome: Outcome }) => ({ did: params.outcome })),
    spawned: assign(({ context }, params: { outcome: Outcome }) => ({ peers: context.peers + 1, did: params.outcome })),
    forgot: assign(({ context }, params: { outcome: Outcome }) => ({ peers: context.peers - 1, did: params.outcome })),
    failedNegotiations: assign({ peers: 0, did: 'failedNegotiations' as const }),
  },
}).createMachine({
  id: 'nodeModel',
  context: { peers: 0, did: 'nothing' },
  initial: 'idle',
  states: {
    idle: {
      on: { START: { target: 'running', actions: did('askedSignalingToConnect') } },
    },
    running: {
      initial: 'connecting',
      states: {
        connecting: {
          on: {
            'SIGNALING.REGISTERED': { target: 'online', actions: did('nothing') },
            'SIGNALING.GAVE_UP': { target: 'signalingFailed', actions: did('recordedSignalingError') },
          },
        },
        online: {
          on: {
            // Every peer here is still negotiating (no transport opens): each fails, and says so once signaling is back.
            'SIGNALING.LOST': { target: 'offline', actions: 'failedNegotiations' },
            'SIGNALING.GAVE_UP': { target: 'signalingFailed', actions: did('recordedSignalingError') },
            ...fromRemote,
          },
        },
        offline: {
          on: {
            'SIGNALING.REGISTERED': { target: 'online', actions: did('nothing') },
            'SIGNALING.GAVE_UP': { target: 'signalingFailed', actions: did('recordedSignalingError') },
          },
        },
        /** Nothing arrives from signaling any more, and nothing sent to it goes anywhere; peers live on. */
        signalingFailed: {
          on: {
            'PEER.SIGNAL': { actions: did('lostSignal') },
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
        'PEER.SIGNAL': { actions: did('relayedSignal') },
        'PEER.DONE': { actions: forgot('forgotFinished') },
        'PEER.ERROR': { actions: forgot('forgotCrashed') },
      },
    },
    stopped: {
      type: 'final',
    },
  },
});
