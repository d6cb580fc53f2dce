/**
 * The node supervisor: owns the signaling actor, spawns one `peer.<id>` actor per remote node, routes
 * every verified signal to its actor, and forgets actors that finish. Signaling outages change only
 * this machine's `running.*` substate; connected peers are never touched by them.
 */
import { and, assign, enqueueActions, or, sendTo, setup, type ActorRefFrom } from 'xstate';
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
import { dhtMachine, type DhtMachineInput } from './dht.machine.js';
import type { OverlayEvent } from '../services/overlay.js';

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
  /** Run the DHT (absent: no DHT, and the server carries every signal). */
  dht?: DhtMachineInput;
}

type PeerRef = ActorRefFrom<typeof peerConnectionMachine>;
type DhtRef = ActorRefFrom<typeof dhtMachine>;

export interface NodeContext extends NodeInput {
  peers: Record<string, PeerRef>;
  /** ICE servers the signaling server issued at the last registration; peers use them after `transport.iceServers`. */
  serverIceServers: IceServer[];
  signalingError?: SignalingOutput['error'];
  dhtRef?: DhtRef;
  /**
   * Peers whose signals travel through the overlay, with the route to them: those the DHT connected
   * to, and those whose offer came through it.
   */
  routes: Record<string, string[]>;
  /** The DHT nodes the server introduced at the last registration. */
  introduced: string[];
}

export type NodeEvent =
  | { type: 'START' }
  | { type: 'STOP' }
  /** `via`: a route through the overlay to signal along (from a DHT lookup), when the server is away. */
  | { type: 'CONNECT'; peerId: string; via?: string[] }
  | { type: 'DISCONNECT'; peerId: string; force?: boolean }
  | SignalingNotice
  | Exclude<OverlayEvent, { type: 'OVERLAY.JOINED' | 'OVERLAY.LINKS' }>
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
  actors: { signaling: signalingMachine, peer: peerConnectionMachine, dht: dhtMachine },
  guards: {
    knowsSender: ({ context, event }) => event.type === 'SIGNAL.IN' && event.signal.from in context.peers,
    knowsTarget: ({ context, event }) => {
      if (event.type === 'SIGNAL.FAILED' || event.type === 'OVERLAY.SIGNAL_FAILED') return event.to in context.peers;
      return (event.type === 'CONNECT' || event.type === 'DISCONNECT' || event.type === 'OVERLAY.CONNECT') && event.peerId in context.peers;
    },
    hasDht: ({ context }) => context.dhtRef !== undefined,
    /** A peer whose session runs through the overlay. */
    routed: ({ context, event }) => event.type === 'PEER.SIGNAL' && event.to in context.routes,
    /** An offer opening a session (sequence 0); a later one restarts ICE in a session that has no actor here. */
    isOffer: ({ event }) => event.type === 'SIGNAL.IN' && event.signal.kind === 'offer' && event.signal.seq === 0,
    atCapacity: ({ context }) => Object.keys(context.peers).length >= context.maxPeers,
    busy: ({ context }) =>
      Object.values(context.peers).filter((peer) => !ESTABLISHED_STATES.has(peer.getSnapshot().value)).length >= context.maxNegotiating,
  },
  actions: {
    connectSignaling: sendTo('signaling', { type: 'CONNECT' }),
    startDht: assign({ dhtRef: ({ context, spawn }) => (context.dht ? spawn('dht', { id: 'dht', input: context.dht }) : undefined) }),
    /** The server's introductions, for the DHT to join through (again, if it loses every link). */
    joinDht: enqueueActions(({ context, event, enqueue }) => {
      const peers = event.type === 'SIGNALING.REGISTERED' ? event.peers : undefined;
      if (context.dhtRef && peers) {
        enqueue.assign({ introduced: peers });
        enqueue.sendTo(context.dhtRef, { type: 'JOIN' as const, peers });
      }
    }),
    rejoinDht: enqueueActions(({ context, enqueue }) => {
      if (context.dhtRef) enqueue.sendTo(context.dhtRef, { type: 'JOIN' as const, peers: context.introduced });
    }),
    rememberRoute: assign({
      routes: ({ context, event }) => {
        // A bootstrap connection (no route: the server introduced the peer) is signaled through the server.
        if (event.type === 'OVERLAY.CONNECT' || event.type === 'CONNECT') {
          return event.via && event.via.length > 0 ? { ...context.routes, [event.peerId]: event.via } : context.routes;
        }
        if (event.type === 'SIGNAL.IN' && 'via' in event) return { ...context.routes, [event.signal.from]: event.via };
        return context.routes;
      },
    }),
    sendViaOverlay: enqueueActions(({ context, event, enqueue }) => {
      const { to, session, data } = event as PeerSignal;
      if (context.dhtRef) enqueue.sendTo(context.dhtRef, { type: 'SEND' as const, to, session, data, via: context.routes[to] ?? [] });
    }),
    refuseOverlayConnect: enqueueActions(({ context, event, enqueue }) => {
      if (context.dhtRef && event.type === 'OVERLAY.CONNECT') enqueue.sendTo(context.dhtRef, { type: 'CONNECT_FAILED' as const, peerId: event.peerId });
    }),
    routeOverlayFailure: sendTo(
      ({ context, event }) => context.peers[(event as { to: string }).to]!,
      ({ event }) => ({
        type: 'SIGNAL.FAILED' as const,
        session: (event as { session: string }).session,
        error: { code: 'ERR_UNKNOWN_PEER' as const, message: 'no link leads toward this node through the overlay' },
      }),
    ),
    // Replaced, not merged: each registration brings fresh credentials, and a server may stop issuing any.
    storeServerIceServers: assign({
      serverIceServers: ({ event }) => (event.type === 'SIGNALING.REGISTERED' ? event.iceServers ?? [] : []),
    }),
    spawnInitiator: assign(({ context, event, spawn }) => {
      if (event.type !== 'CONNECT' && event.type !== 'OVERLAY.CONNECT') return {};
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
    /** The refusal goes back the way the offer came: through the overlay, or through the server. */
    refuseOffer: enqueueActions(({ context, event, enqueue }, params: { code: string }) => {
      const offer = event as Extract<NodeEvent, { type: 'SIGNAL.IN' }>;
      const { from, session } = offer.signal;
      const reject = { type: 'SEND' as const, to: from, session, data: { type: 'reject' as const, code: params.code } };
      if ('via' in offer && context.dhtRef) enqueue.sendTo(context.dhtRef, { ...reject, via: offer.via });
      else enqueue.sendTo('signaling', reject);
    }),
    prepareKey: enqueueActions(({ context, event, enqueue }) => context.signalingError === undefined && event.type === 'CONNECT' && enqueue.sendTo('signaling', { type: 'PREPARE' as const, to: event.peerId })),
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
      const { [peerId]: __, ...routes } = context.routes;
      enqueue.assign({ peers: rest, routes });
      // Harmless for a peer that had connected (its link's close tells the DHT); ends an attempt that had not.
      if (context.dhtRef) enqueue.sendTo(context.dhtRef, { type: 'CONNECT_FAILED' as const, peerId });
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
  context: ({ input }) => ({ ...input, peers: {}, serverIceServers: [], routes: {}, introduced: [] }),
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
      entry: ['connectSignaling', 'startDht'],
      initial: 'connecting',
      states: {
        connecting: {
          on: {
            'SIGNALING.REGISTERED': { target: 'online', actions: ['storeServerIceServers', 'joinDht'] },
            'PEER.SIGNAL': [{ guard: 'routed', actions: 'sendViaOverlay' }, { actions: 'sendSignal' }],
          },
        },
        online: {
          on: {
            // With a DHT, signals go through the overlay while the server is away: negotiations carry on.
            'SIGNALING.LOST': [{ guard: 'hasDht', target: 'offline' }, { target: 'offline', actions: 'tellPeersSignalingLost' }],
            'PEER.SIGNAL': [{ guard: 'routed', actions: 'sendViaOverlay' }, { actions: 'sendSignal' }],
            'OVERLAY.BOOTSTRAP': { actions: 'rejoinDht' },
          },
        },
        offline: {
          on: {
            'SIGNALING.REGISTERED': { target: 'online', actions: ['storeServerIceServers', 'joinDht'] },
            'PEER.SIGNAL': [{ guard: 'hasDht', actions: 'sendViaOverlay' }, { actions: 'sendSignal' }],
          },
        },
        /** Signaling gave up (unreachable before first contact, or our id was taken over); peers live on. */
        signalingFailed: {
          // The signaling actor is gone: the overlay carries signals, or each is reported lost.
          on: { 'PEER.SIGNAL': [{ guard: 'hasDht', actions: 'sendViaOverlay' }, { actions: 'logSignalLost' }] },
        },
      },
      on: {
        STOP: '#node.stopped',
        CONNECT: [
          { guard: 'knowsTarget' },
          { guard: 'atCapacity', actions: 'logRefused' },
          { actions: ['rememberRoute', 'spawnInitiator', 'prepareKey'] },
        ],
        'OVERLAY.CONNECT': [
          { guard: 'knowsTarget', actions: 'refuseOverlayConnect' },
          { guard: or(['atCapacity', 'busy']), actions: 'refuseOverlayConnect' },
          { actions: ['rememberRoute', 'spawnInitiator'] },
        ],
        'OVERLAY.SIGNAL_FAILED': { guard: 'knowsTarget', actions: 'routeOverlayFailure' },
        DISCONNECT: { guard: 'knowsTarget', actions: 'closePeer' },
        'SIGNAL.IN': [
          { guard: 'knowsSender', actions: ['rememberRoute', 'routeSignal'] },
          { guard: and(['isOffer', 'atCapacity']), actions: ['rememberRoute', 'logRefused', { type: 'refuseOffer', params: { code: 'ERR_TOO_MANY_PEERS' } }] },
          { guard: and(['isOffer', 'busy']), actions: ['rememberRoute', 'logBusy', { type: 'refuseOffer', params: { code: BUSY_CODE } }] },
          { guard: 'isOffer', actions: ['rememberRoute', 'spawnResponder'] },
          { actions: 'logDropped' },
        ],
        'SIGNAL.FAILED': { guard: 'knowsTarget', actions: 'routeFailure' },
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
