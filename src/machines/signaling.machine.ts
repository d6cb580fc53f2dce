/**
 * The signaling actor: one Socket.IO session at a time, registered with a signed challenge,
 * re-established with exponential backoff after any loss. Peers never depend on it once connected.
 */
import { assign, enqueueActions, sendParent, sendTo, setup } from 'xstate';
import type { Logger } from '../log.js';
import { signalingTransport } from '../services/signalingTransport.js';
import type { KeyPrepare, SocketCommand, SocketEvent } from '../services/socketClient.js';
import type { IceServer } from '../services/webrtcTransport.js';
import type { Envelopes, VerifiedSignal } from '../wire/envelope.js';
import type { Identity } from '../wire/keys.js';
import type { ProtocolError } from '../wire/protocol.js';

export interface SignalingTimeouts {
  /** Socket.IO connect, per attempt. */
  connect: number;
  /** From connected to registered, per attempt. */
  register: number;
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** 0..1: the share of each delay that is randomized, so many nodes do not retry in lockstep. */
  jitter: number;
}

export interface SignalingInput {
  /** The servers to try, in order: a failed attempt or a lost connection moves on to the next. */
  urls: readonly string[];
  identity: Identity;
  envelopes: Envelopes;
  logger: Logger;
  timeouts: SignalingTimeouts;
  backoff: BackoffOptions;
  /** Attempts before giving up on a server that was never reached; after one success it retries forever. */
  initialAttempts: number;
  /** Outgoing signals kept while not registered; the oldest are dropped beyond this. */
  queueLimit: number;
  /** Register as a DHT node, so the server introduces us to others (and them to us). */
  dht?: boolean;
}

export interface SignalingContext extends SignalingInput {
  /** Consecutive failed attempts since the last registration. */
  attempt: number;
  /** Index in `urls` of the server of the current (or next) attempt. */
  server: number;
  registered: boolean;
  queue: SocketCommand[];
  error?: ProtocolError;
  /** Why the last attempt failed, for the error a caller finally sees. */
  lastFailure?: string;
}

export type SignalingEvent =
  | { type: 'CONNECT' }
  | SocketCommand
  /** A connection to `to` is starting: find out now whether it decrypts (ignored unless registered). */
  | KeyPrepare
  | SocketEvent;

/** What the signaling actor tells its parent (the node supervisor). */
export type SignalingNotice =
  /** `iceServers`: what the server issued with this registration (fresh credentials every time). */
  /** `peers`: DHT nodes the server introduced, when we registered as one. */
  | { type: 'SIGNALING.REGISTERED'; nodeId: string; iceServers?: IceServer[]; peers?: string[] }
  | { type: 'SIGNALING.LOST'; reason: string }
  | { type: 'SIGNAL.IN'; signal: VerifiedSignal }
  | { type: 'SIGNAL.FAILED'; to: string; session: string; error: ProtocolError };

export interface SignalingOutput {
  error: ProtocolError | { code: 'ERR_SIGNALING_UNREACHABLE'; message: string };
}

/** Delay before reconnect attempt `attempt` (1-based). */
export function backoffDelay(attempt: number, { initialMs, maxMs, jitter }: BackoffOptions, random = Math.random): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (1 - jitter + jitter * random()));
}

/** A lost or stalled attempt: back off and retry, or give up on a server never reached. */
const retryOrFail = [
  { guard: 'canRetry', target: '#signaling.reconnecting', actions: ['recordFailure', 'logLoss'] },
  { target: '#signaling.failed', actions: ['recordFailure', 'logLoss'] },
] as const;

/**
 * The signaling session's statechart; its only IO is the `socket` actor, replaceable with `.provide()`.
 *
 * @example
 * ```ts
 * const signaling = signalingMachine.provide({ actors: { socket: mySocketLogic } });
 * ```
 */
export const signalingMachine = setup({
  types: {
    input: {} as SignalingInput,
    context: {} as SignalingContext,
    events: {} as SignalingEvent,
    output: {} as SignalingOutput,
  },
  actors: { socket: signalingTransport },
  delays: {
    connectTimeout: ({ context }) => context.timeouts.connect,
    registerTimeout: ({ context }) => context.timeouts.register,
    backoff: ({ context }) => backoffDelay(context.attempt, context.backoff),
  },
  guards: {
    // Every listed server gets at least one attempt before a node that never registered gives up.
    canRetry: ({ context }) => context.registered || context.attempt + 1 < Math.max(context.initialAttempts, context.urls.length),
  },
  actions: {
    countAttempt: assign({ attempt: ({ context }) => context.attempt + 1 }),
    // The server that just failed is the likeliest to fail again: the next attempt goes to the next one.
    nextServer: assign({ server: ({ context }) => (context.server + 1) % context.urls.length }),
    markRegistered: assign({ registered: true, attempt: 0 }),
    enqueue: assign({
      queue: ({ context, event }) => {
        if (event.type !== 'SEND') return context.queue;
        if (context.queue.length >= context.queueLimit) {
          context.logger.warn({ to: event.to }, 'signaling queue full, dropping the oldest signal');
        }
        return [...context.queue, event].slice(-context.queueLimit);
      },
    }),
    flush: enqueueActions(({ context, enqueue }) => {
      for (const command of context.queue) enqueue.sendTo('socket', command);
      enqueue.assign({ queue: [] });
    }),
    relay: sendTo('socket', ({ event }) => event as SocketCommand | KeyPrepare),
    notifyRegistered: sendParent(({ event }) => {
      const { nodeId, iceServers, peers } = event as Extract<SocketEvent, { type: 'SOCKET.REGISTERED' }>;
      return { type: 'SIGNALING.REGISTERED', nodeId, iceServers, peers };
    }),
    notifyLost: sendParent(({ event }) => ({
      type: 'SIGNALING.LOST',
      reason: event.type === 'SOCKET.DISCONNECTED' ? event.reason : event.type,
    })),
    deliver: sendParent(({ event }) => ({ type: 'SIGNAL.IN', signal: (event as Extract<SocketEvent, { type: 'SOCKET.SIGNAL' }>).signal })),
    reportFailure: sendParent(({ event }) => {
      const failed = event as Extract<SocketEvent, { type: 'SOCKET.SIGNAL_FAILED' }>;
      return { type: 'SIGNAL.FAILED', to: failed.to, session: failed.session, error: failed.error };
    }),
    recordRejection: assign({
      error: ({ event }) => (event.type === 'SOCKET.REJECTED' ? event.error : undefined),
    }),
    recordFailure: assign({
      lastFailure: ({ event }) => (event.type === 'SOCKET.DISCONNECTED' ? event.reason : 'timed out'),
    }),
    /** Losing a registered session is news once; the retries that follow are expected and logged quietly. */
    logLoss: ({ context, event }) => {
      const lost = context.registered && context.attempt === 0;
      context.logger[lost ? 'warn' : 'info'](
        { event: event.type, reason: 'reason' in event ? event.reason : undefined, attempt: context.attempt },
        lost ? 'signaling connection lost' : 'signaling connection attempt failed',
      );
    },
  },
}).createMachine({
  id: 'signaling',
  context: ({ input }) => ({ ...input, attempt: 0, server: 0, registered: false, queue: [] }),
  initial: 'disconnected',
  on: {
    SEND: { actions: 'enqueue' },
  },
  states: {
    disconnected: {
      on: { CONNECT: 'online' },
    },
    online: {
      invoke: {
        id: 'socket',
        src: 'socket',
        input: ({ context }) => ({
          url: context.urls[context.server]!,
          identity: context.identity,
          envelopes: context.envelopes,
          dht: context.dht,
          logger: context.logger,
        }),
      },
      on: {
        'SOCKET.DISCONNECTED': retryOrFail,
        'SOCKET.REJECTED': { target: 'failed', actions: 'recordRejection' },
        'SOCKET.SIGNAL': { actions: 'deliver' },
        'SOCKET.SIGNAL_FAILED': { actions: 'reportFailure' },
      },
      initial: 'connecting',
      states: {
        connecting: {
          on: { 'SOCKET.CONNECTED': 'registering' },
          after: {
            connectTimeout: retryOrFail,
          },
        },
        registering: {
          on: { 'SOCKET.REGISTERED': { target: 'registered', actions: ['markRegistered', 'notifyRegistered'] } },
          after: {
            registerTimeout: retryOrFail,
          },
        },
        registered: {
          entry: 'flush',
          exit: 'notifyLost',
          on: { SEND: { actions: 'relay' }, PREPARE: { actions: 'relay' } },
        },
      },
    },
    reconnecting: {
      entry: ['countAttempt', 'nextServer'],
      after: { backoff: 'online' },
    },
    failed: {
      type: 'final',
    },
  },
  output: ({ context }) => ({
    error: context.error ?? {
      code: 'ERR_SIGNALING_UNREACHABLE',
      message: `cannot reach signaling server ${context.urls.join(', ')} after ${context.attempt + 1} attempts (last: ${context.lastFailure ?? 'unknown'})`,
    },
  }),
});
