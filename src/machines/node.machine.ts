/**
 * The node supervisor: owns the signaling actor, spawns one `peer.<id>` actor per remote node, routes
 * every verified signal to its actor, and forgets actors that finish. Signaling outages change only
 * this machine's `running.*` substate; connected peers are never touched by them.
 */
import { and, assign, enqueueActions, sendTo, setup, type ActorRefFrom } from 'xstate';
import type { IceServer } from '../services/webrtcTransport.js';
import { newSessionId, type VerifiedSignal } from '../wire/envelope.js';
import {
  BUSY_CODE,
  ESTABLISHED_STATES,
  peerConnectionMachine,
  type PeerInput,
  type PeerOutput,
  type PeerSignal,
  type PeerTimeouts,
} from './peerConnection.machine.js';
import { signalingMachine, type SignalingInput, type SignalingNotice, type SignalingOutput } from './signaling.machine.js';

export interface NodeInput {
  localId: string;
  signaling: SignalingInput;
  peerTimeouts: PeerTimeouts;
  transport: PeerInput['transport'];
  /** Most peer actors at once (connected or negotiating); each costs ~20 file descriptors and 2 threads. */
  maxPeers: number;
  /**
   * Offers from new peers are refused (`ERR_BUSY`) while this many peer actors negotiate: until it
   * connects, each holds ~200 file descriptors in libwebrtc.
   */
  maxNegotiating: number;
}

type PeerRef = ActorRefFrom<typeof peerConnectionMachine>;

export interface NodeContext extends NodeInput {
  peers: Record<string, PeerRef>;
  /** ICE servers the signaling server issued at the last registration; peers use them after `transport.iceServers`. */
  serverIceServers: IceServer[];
  signalingError?: SignalingOutput['error'];
}

export type NodeEvent =
  | { type: 'START' }
  | { type: 'STOP' }
  | { type: 'CONNECT'; peerId: string }
  | { type: 'DISCONNECT'; peerId: string; force?: boolean }
  | SignalingNotice
  | PeerSignal
  | { type: 'xstate.done.actor.signaling'; output: SignalingOutput }
  | { type: `xstate.done.actor.peer.${string}`; output: PeerOutput; actorId: string }
  | { type: `xstate.error.actor.peer.${string}`; error: unknown; actorId: string };

/** The child id of the actor for `peerId`. */
export const peerActorId = (peerId: string): `peer.${string}` => `peer.${peerId}`;

const peerIdOf = (actorId: string): string => actorId.slice('peer.'.length);

/**
 * The supervisor statechart. `createNode` runs it for you; embed it directly to supply your own IO.
 *
 * @example
 * ```ts
 * const machine = nodeMachine.provide({ actors: { peer: peerConnectionMachine.provide({ actors: { transport: myTransport } }) } });
 * const actor = createActor(machine, { input }).start();
 * actor.send({ type: 'START' });
 * actor.send({ type: 'CONNECT', peerId });
 * ```
 */
export const nodeMachine = setup({
  types: {
    input: {} as NodeInput,
    context: {} as NodeContext,
    events: {} as NodeEvent,
  },
  actors: { signaling: signalingMachine, peer: peerConnectionMachine },
  guards: {
    knowsSender: ({ context, event }) => event.type === 'SIGNAL.IN' && event.signal.from in context.peers,
    knowsTarget: ({ context, event }) =>
      (event.type === 'CONNECT' || event.type === 'DISCONNECT' || event.type === 'SIGNAL.FAILED') &&
      (event.type === 'SIGNAL.FAILED' ? event.to : event.peerId) in context.peers,
    /** An offer opening a session (sequence 0); a later one restarts ICE in a session that has no actor here. */
    isOffer: ({ event }) => event.type === 'SIGNAL.IN' && event.signal.kind === 'offer' && event.signal.seq === 0,
    atCapacity: ({ context }) => Object.keys(context.peers).length >= context.maxPeers,
    busy: ({ context }) =>
      Object.values(context.peers).filter((peer) => !ESTABLISHED_STATES.has(peer.getSnapshot().value)).length >= context.maxNegotiating,
  },
  actions: {
    connectSignaling: sendTo('signaling', { type: 'CONNECT' }),
    // Replaced, not merged: each registration brings fresh credentials, and a server may stop issuing any.
    storeServerIceServers: assign({
      serverIceServers: ({ event }) => (event.type === 'SIGNALING.REGISTERED' ? event.iceServers ?? [] : []),
    }),
    spawnInitiator: assign(({ context, event, spawn }) => {
      if (event.type !== 'CONNECT') return {};
      const input = peerInput(context, event.peerId, 'initiator', newSessionId());
      return { peers: { ...context.peers, [event.peerId]: spawn('peer', { id: peerActorId(event.peerId), input }) } };
    }),
    spawnResponder: assign(({ context, event, spawn }) => {
      if (event.type !== 'SIGNAL.IN') return {};
      const { from, session, data } = event.signal;
      const input = { ...peerInput(context, from, 'responder', session), offer: data };
      return { peers: { ...context.peers, [from]: spawn('peer', { id: peerActorId(from), input }) } };
    }),
    routeSignal: sendTo(
      ({ context, event }) => context.peers[(event as { signal: VerifiedSignal }).signal.from]!,
      ({ event }) => event as Extract<NodeEvent, { type: 'SIGNAL.IN' }>,
    ),
    routeFailure: sendTo(
      ({ context, event }) => context.peers[(event as { to: string }).to]!,
      ({ event }) => {
        const failed = event as Extract<NodeEvent, { type: 'SIGNAL.FAILED' }>;
        return { type: 'SIGNAL.FAILED' as const, session: failed.session, error: failed.error };
      },
    ),
    /** Peers still exchanging SDP cannot finish without the server; they fail now rather than at their timeout. */
    tellPeersSignalingLost: enqueueActions(({ context, enqueue }) => {
      for (const ref of Object.values(context.peers)) enqueue.sendTo(ref, { type: 'SIGNALING.LOST' as const });
    }),
    closePeer: sendTo(
      ({ context, event }) => context.peers[(event as { peerId: string }).peerId]!,
      ({ event }) => ({ type: 'CLOSE' as const, force: (event as { force?: boolean }).force }),
    ),
    refuseOffer: sendTo('signaling', ({ event }, params: { code: string }) => {
      const { from, session } = (event as Extract<NodeEvent, { type: 'SIGNAL.IN' }>).signal;
      return { type: 'SEND' as const, to: from, session, data: { type: 'reject' as const, code: params.code } };
    }),
    sendSignal: sendTo('signaling', ({ event }) => {
      const { to, session, data } = event as PeerSignal;
      return { type: 'SEND' as const, to, session, data };
    }),
    forgetPeer: enqueueActions(({ context, event, enqueue }) => {
      const peerId = peerIdOf((event as { actorId: string }).actorId);
      const ref = context.peers[peerId];
      if (!ref) return;
      enqueue.stopChild(ref);
      const { [peerId]: _, ...rest } = context.peers;
      enqueue.assign({ peers: rest });
    }),
    recordSignalingFailure: assign({
      signalingError: ({ event }) => (event.type === 'xstate.done.actor.signaling' ? event.output.error : undefined),
    }),
    logDropped: ({ context, event }) =>
      context.signaling.logger.warn(
        { event: event.type, from: event.type === 'SIGNAL.IN' ? event.signal.from : undefined },
        'no peer actor for this signal',
      ),
    logRefused: ({ context, event }) =>
      context.signaling.logger.warn({ event: event.type, maxPeers: context.maxPeers }, 'peer limit reached'),
    logBusy: ({ context }) =>
      context.signaling.logger.warn({ maxNegotiating: context.maxNegotiating }, 'too many peers negotiating; offer refused'),
    logSignalLost: ({ context, event }) =>
      context.signaling.logger.warn({ to: (event as PeerSignal).to }, 'signaling has failed; a signal to this peer is lost'),
    logPeerError: ({ context, event }) =>
      context.signaling.logger.error({ event: event.type, error: String((event as { error?: unknown }).error) }, 'peer actor failed'),
  },
}).createMachine({
  id: 'node',
  context: ({ input }) => ({ ...input, peers: {}, serverIceServers: [] }),
  initial: 'idle',
  states: {
    idle: {
      on: { START: 'running' },
    },
    running: {
      invoke: {
        id: 'signaling',
        src: 'signaling',
        input: ({ context }) => context.signaling,
        onDone: { target: '.signalingFailed', actions: 'recordSignalingFailure' },
      },
      entry: 'connectSignaling',
      initial: 'connecting',
      states: {
        connecting: {
          on: { 'SIGNALING.REGISTERED': { target: 'online', actions: 'storeServerIceServers' } },
        },
        online: {
          on: { 'SIGNALING.LOST': { target: 'offline', actions: 'tellPeersSignalingLost' } },
        },
        offline: {
          on: { 'SIGNALING.REGISTERED': { target: 'online', actions: 'storeServerIceServers' } },
        },
        /** Signaling gave up (unreachable before first contact, or our id was taken over); peers live on. */
        signalingFailed: {
          // The signaling actor is gone: say so once per signal instead of sending to a stopped actor.
          on: { 'PEER.SIGNAL': { actions: 'logSignalLost' } },
        },
      },
      on: {
        STOP: '#node.stopped',
        CONNECT: [
          { guard: 'knowsTarget' },
          { guard: 'atCapacity', actions: 'logRefused' },
          { actions: 'spawnInitiator' },
        ],
        DISCONNECT: { guard: 'knowsTarget', actions: 'closePeer' },
        'SIGNAL.IN': [
          { guard: 'knowsSender', actions: 'routeSignal' },
          { guard: and(['isOffer', 'atCapacity']), actions: ['logRefused', { type: 'refuseOffer', params: { code: 'ERR_TOO_MANY_PEERS' } }] },
          { guard: and(['isOffer', 'busy']), actions: ['logBusy', { type: 'refuseOffer', params: { code: BUSY_CODE } }] },
          { guard: 'isOffer', actions: 'spawnResponder' },
          { actions: 'logDropped' },
        ],
        'SIGNAL.FAILED': { guard: 'knowsTarget', actions: 'routeFailure' },
        'PEER.SIGNAL': { actions: 'sendSignal' },
        'xstate.done.actor.peer.*': { actions: 'forgetPeer' },
        'xstate.error.actor.peer.*': { actions: ['logPeerError', 'forgetPeer'] },
      },
    },
    stopped: {
      type: 'final',
    },
  },
});

function peerInput(context: NodeContext, remoteId: string, role: PeerInput['role'], session: string): PeerInput {
  const iceServers = [...context.transport.iceServers, ...context.serverIceServers];
  return { localId: context.localId, remoteId, role, session, timeouts: context.peerTimeouts, transport: { ...context.transport, iceServers } };
}
