/**
 * Abstract test model of the signaling actor (src/machines/signaling.machine.ts), for `createTestModel`.
 *
 * It speaks in what the environment does to the actor (socket events, elapsed timeouts, the parent's
 * SENDs) and in what the parent must then see. It has no `invoke` or `after`: a timeout is an event
 * the test produces by advancing a simulated clock by exactly the delay the model names here.
 *
 * Counters are kept only as fine as they change behaviour, so the state space stays finite:
 * - `attempt` saturates at ATTEMPT_CAP, where the backoff delay stops growing;
 * - with `initialAttempts: 2`, a server never reached is given up on at the second failure;
 * - `queued` saturates at the queue limit, `overflowed` records that older signals were dropped.
 */
import { assign, setup } from 'xstate';

/** The real actor runs with these; the model's numbers below are derived from them by hand, on purpose. */
export const SIGNALING_SETTINGS = {
  initialAttempts: 2,
  // 2, not 1: the machine keeps `queue.slice(-(limit - 1))`, and with a limit of 1 that is slice(-0),
  // the whole queue — nothing is ever dropped, so 1 cannot be modelled as a limit.
  queueLimit: 2,
  timeouts: { connect: 1000, register: 500 },
  // No jitter, so every backoff is exact; maxMs caps the second delay (100 * 2 = 200 → 150).
  backoff: { initialMs: 100, maxMs: 150, jitter: 0 },
} as const;

/** Failed attempts beyond this one wait as long as this one. */
export const ATTEMPT_CAP = 2;

/** How long the actor must wait before reconnect attempt `attempt` (1-based), written out rather than computed. */
export function expectedBackoff(attempt: number): number {
  return attempt >= ATTEMPT_CAP ? 150 : 100;
}

/** What the parent must be told by one step; at most one notice per step. */
export type Notice = 'SIGNALING.REGISTERED' | 'SIGNALING.LOST' | 'SIGNAL.IN' | 'SIGNAL.FAILED';

export interface SignalingModelContext {
  /** Failed attempts since the last registration, saturating at ATTEMPT_CAP. */
  attempt: number;
  registeredOnce: boolean;
  /** SENDs waiting for a registration, at most the queue limit. */
  queued: number;
  /** More SENDs arrived than the queue keeps: the oldest were dropped. */
  overflowed: boolean;
  /** What the parent must have received on the last step. */
  notice: Notice | null;
  /** At `failed`: the code of the error the actor must end with. */
  error: 'ERR_AUTH' | 'ERR_SIGNALING_UNREACHABLE' | null;
}

export type SignalingModelEvent =
  | { type: 'CONNECT' }
  | { type: 'SEND' }
  | { type: 'PREPARE' }
  | { type: 'SOCKET.CONNECTED' }
  | { type: 'SOCKET.REGISTERED' }
  | { type: 'SOCKET.DISCONNECTED' }
  | { type: 'SOCKET.REJECTED' }
  | { type: 'SOCKET.SIGNAL' }
  | { type: 'SOCKET.SIGNAL_FAILED' }
  | { type: 'CONNECT_TIMEOUT' }
  | { type: 'REGISTER_TIMEOUT' }
  | { type: 'BACKOFF_ELAPSED' };

/** Every step says what the parent hears, so a notice never leaks into the next step. */
const tell = (notice: Notice | null) => ({ type: 'tell', params: { notice } }) as const;
const quiet = tell(null);

/** A lost or stalled attempt: the same rule wherever it happens, as in the real machine. */
const lose = (notice: Notice | null) => [
  { guard: 'mayRetry', target: '#signalingModel.reconnecting', actions: [tell(notice)] },
  { target: '#signalingModel.failed', actions: [tell(notice), 'giveUp'] },
] as const;

export const signalingModel = setup({
  types: {
    context: {} as SignalingModelContext,
    events: {} as SignalingModelEvent,
  },
  guards: {
    mayRetry: ({ context }) => context.registeredOnce || context.attempt < SIGNALING_SETTINGS.initialAttempts - 1,
  },
  actions: {
    tell: assign((_, params: { notice: Notice | null }) => ({ notice: params.notice })),
    queue: assign(({ context }) => ({
      queued: Math.min(context.queued + 1, SIGNALING_SETTINGS.queueLimit),
      overflowed: context.overflowed || context.queued === SIGNALING_SETTINGS.queueLimit,
    })),
    countAttempt: assign({ attempt: ({ context }) => Math.min(context.attempt + 1, ATTEMPT_CAP) }),
    register: assign({ registeredOnce: true, attempt: 0, queued: 0, overflowed: false }),
    giveUp: assign({ error: 'ERR_SIGNALING_UNREACHABLE' }),
    reject: assign({ error: 'ERR_AUTH' }),
  },
}).createMachine({
  id: 'signalingModel',
  context: { attempt: 0, registeredOnce: false, queued: 0, overflowed: false, notice: null, error: null },
  initial: 'disconnected',
  states: {
    disconnected: {
      on: {
        CONNECT: { target: 'online', actions: quiet },
        SEND: { actions: [quiet, 'queue'] },
        PREPARE: { actions: quiet },
      },
    },
    online: {
      initial: 'connecting',
      states: {
        connecting: {
          on: {
            'SOCKET.CONNECTED': { target: 'registering', actions: quiet },
            'SOCKET.DISCONNECTED': lose(null),
            CONNECT_TIMEOUT: lose(null),
            SEND: { actions: [quiet, 'queue'] },
            PREPARE: { actions: quiet },
          },
        },
        registering: {
          on: {
            'SOCKET.REGISTERED': { target: 'registered', actions: [tell('SIGNALING.REGISTERED'), 'register'] },
            'SOCKET.REJECTED': { target: '#signalingModel.failed', actions: [quiet, 'reject'] },
            'SOCKET.DISCONNECTED': lose(null),
            REGISTER_TIMEOUT: lose(null),
            SEND: { actions: [quiet, 'queue'] },
            PREPARE: { actions: quiet },
          },
        },
        registered: {
          on: {
            // Only a registered socket is sent signals and delivery failures by the server.
            'SOCKET.SIGNAL': { actions: tell('SIGNAL.IN') },
            'SOCKET.SIGNAL_FAILED': { actions: tell('SIGNAL.FAILED') },
            SEND: { actions: quiet },
            // A connection is starting: the socket finds out whether the peer decrypts. Dropped elsewhere: only a hint.
            PREPARE: { actions: quiet },
            // The server replaced this session (another one registered our id): lost, and for good.
            'SOCKET.REJECTED': { target: '#signalingModel.failed', actions: [tell('SIGNALING.LOST'), 'reject'] },
            'SOCKET.DISCONNECTED': lose('SIGNALING.LOST'),
          },
        },
      },
    },
    reconnecting: {
      entry: 'countAttempt',
      on: {
        BACKOFF_ELAPSED: { target: 'online', actions: quiet },
        SEND: { actions: [quiet, 'queue'] },
        PREPARE: { actions: quiet },
      },
    },
    failed: {
      type: 'final',
    },
  },
});
