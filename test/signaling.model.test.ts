/**
 * Model-based tests of the signaling actor: every path of test/models/signaling.model.ts drives the real
 * signalingMachine (fake socket, simulated clock) and checks it against the model after every step.
 */
import { describe, expect, it } from 'vitest';
import type { AnyMachineSnapshot, InspectionEvent } from 'xstate';
import { silentLogger } from '../src/log.js';
import { signalingMachine, type SignalingInput } from '../src/machines/signaling.machine.js';
import { generateIdentity } from '../src/wire/identity.js';
import type { CarrierCommand, SocketCommand, SocketEvent } from '../src/services/socketClient.js';
import { Envelopes } from '../src/wire/envelope.js';
import { measureCoverage } from './models/coverage.js';
import { modelPaths, runAll, runPath, type Harness, type ModelPath } from './models/run.js';
import {
  expectedBackoff,
  SIGNALING_SETTINGS,
  signalingModel,
  type Notice,
  type SignalingModelEvent,
} from './models/signaling.model.js';
import { fakeSocket, offer, signal, underParent } from './support/fakes.js';

const URL = 'http://signaling.test';
const PEER = 'a'.repeat(64);
const identity = generateIdentity();
const input: SignalingInput = { urls: [URL], identity, envelopes: new Envelopes(identity), logger: silentLogger, ...SIGNALING_SETTINGS };

const EVENTS: SignalingModelEvent[] = (
  [
    'CONNECT',
    'SEND',
    'PREPARE',
    'SOCKET.CONNECTED',
    'SOCKET.REGISTERED',
    'SOCKET.DISCONNECTED',
    'SOCKET.REJECTED',
    'SOCKET.SIGNAL',
    'SOCKET.SIGNAL_FAILED',
    'CONNECT_TIMEOUT',
    'REGISTER_TIMEOUT',
    'BACKOFF_ELAPSED',
  ] as const
).map((type) => ({ type }));

/** The connection lifecycle alone (no outgoing or incoming signals, no key hints) is small enough for every ordering. */
const lifecycleOnly = (_: AnyMachineSnapshot, event: SignalingModelEvent) =>
  !['SEND', 'PREPARE', 'SOCKET.SIGNAL', 'SOCKET.SIGNAL_FAILED'].includes(event.type);

const simplePaths = modelPaths(signalingModel, { strategy: 'simple', events: EVENTS, filter: lifecycleOnly });
const shortestPaths = modelPaths(signalingModel, { strategy: 'shortest', events: EVENTS, verdicts: ['notice'] });

const REJECTION = { code: 'ERR_AUTH', message: 'another session registered this node id' } as const;

/** The real signaling actor under a recording parent, and what the model says it must have done so far. */
function signalingHarness(inspect?: (event: InspectionEvent) => void): Harness<SignalingModelEvent> {
  const socket = fakeSocket();
  const run = underParent(signalingMachine.provide({ actors: { socket: socket.logic } }), input, undefined, inspect);

  let heard = 0;
  let sockets = 0;
  let sent = 0;
  /** SENDs made while not registered, since the last flush, oldest first. */
  let unsent: SocketCommand[] = [];
  /** What the live socket must have been given. */
  let onSocket: CarrierCommand[] = [];
  /** The socket event behind the last step, which any notice must carry. */
  let cause: SocketEvent | undefined;
  let lastFailure = '';
  let losses = 0;
  let registrations = 0;

  const live = () => socket.last();
  const emit = (event: SocketEvent) => {
    cause = event;
    live().emit(event);
  };
  /** Waits out a timer: one millisecond early nothing may happen, on the dot it must fire. */
  const elapse = (ms: number, before: AnyMachineSnapshot) => {
    run.clock.increment(ms - 1);
    expect(run.state(), `${ms - 1}ms into a ${ms}ms wait`).toEqual(before.value);
    run.clock.increment(1);
  };

  const noticeFor = (notice: Notice): Record<string, unknown> => {
    switch (notice) {
      case 'SIGNALING.REGISTERED':
        return { type: notice, nodeId: identity.nodeId, iceServers: cause?.type === 'SOCKET.REGISTERED' ? cause.iceServers : [] };
      case 'SIGNALING.LOST':
        return { type: notice, reason: cause?.type === 'SOCKET.DISCONNECTED' ? cause.reason : expect.any(String) };
      case 'SIGNAL.IN':
        return { type: notice, signal: cause?.type === 'SOCKET.SIGNAL' ? cause.signal : undefined };
      case 'SIGNAL.FAILED': {
        const failed = cause as Extract<SocketEvent, { type: 'SOCKET.SIGNAL_FAILED' }>;
        return { type: notice, to: failed.to, session: failed.session, error: failed.error };
      }
    }
  };

  return {
    perform(event, before) {
      cause = undefined;
      switch (event.type) {
        case 'CONNECT':
          return run.send({ type: 'CONNECT' });
        case 'SEND': {
          sent += 1;
          const command: SocketCommand = { type: 'SEND', to: PEER, session: `session-${sent}`, data: offer(`offer ${sent}`) };
          (before.matches({ online: 'registered' }) ? onSocket : unsent).push(command);
          return run.send(command);
        }
        case 'PREPARE': {
          const command: CarrierCommand = { type: 'PREPARE', to: PEER };
          if (before.matches({ online: 'registered' })) onSocket.push(command);
          return run.send(command);
        }
        case 'SOCKET.CONNECTED':
          return emit({ type: 'SOCKET.CONNECTED' });
        case 'SOCKET.REGISTERED': {
          // The model says how many queued signals survive; they are the newest ones, in order.
          const { queued } = before.context as { queued: number };
          onSocket = unsent.slice(unsent.length - queued);
          unsent = [];
          // Distinct credentials per registration, so a notice carrying stale ones would show.
          registrations += 1;
          const iceServers = [{ urls: ['turn:relay.test:3478'], username: `${registrations}:${identity.nodeId}`, credential: `c${registrations}` }];
          return emit({ type: 'SOCKET.REGISTERED', nodeId: identity.nodeId, iceServers });
        }
        case 'SOCKET.DISCONNECTED':
          losses += 1;
          lastFailure = `transport close ${losses}`;
          return emit({ type: 'SOCKET.DISCONNECTED', reason: lastFailure });
        case 'SOCKET.REJECTED':
          return emit({ type: 'SOCKET.REJECTED', error: REJECTION });
        case 'SOCKET.SIGNAL':
          return emit({ type: 'SOCKET.SIGNAL', signal: signal(PEER, 'session-in', offer('remote offer')) });
        case 'SOCKET.SIGNAL_FAILED':
          return emit({
            type: 'SOCKET.SIGNAL_FAILED',
            to: PEER,
            session: 'session-out',
            error: { code: 'ERR_UNKNOWN_PEER', message: 'not registered' },
          });
        case 'CONNECT_TIMEOUT':
          lastFailure = 'timed out';
          return elapse(SIGNALING_SETTINGS.timeouts.connect, before);
        case 'REGISTER_TIMEOUT':
          lastFailure = 'timed out';
          return elapse(SIGNALING_SETTINGS.timeouts.register, before);
        case 'BACKOFF_ELAPSED':
          return elapse(expectedBackoff((before.context as { attempt: number }).attempt), before);
      }
    },

    verify(model, before) {
      expect(run.state(), 'state').toEqual(model.value);

      const { notice, error } = model.context as { notice: Notice | null; error: string | null };
      expect(run.received.slice(heard), 'what the parent was told').toEqual(notice ? [noticeFor(notice)] : []);
      heard = run.received.length;

      // One socket per attempt: a new one each time the actor goes online, none left open outside it.
      if (model.matches('online') && !before.matches('online')) {
        sockets += 1;
        onSocket = [];
      }
      expect(socket.instances.length, 'sockets opened').toBe(sockets);
      expect(socket.instances.filter((s) => !s.stopped).length, 'sockets open').toBe(model.matches('online') ? 1 : 0);
      if (model.matches('online')) expect(live().commands, 'signals given to the live socket').toEqual(onSocket);

      if (error === 'ERR_AUTH') expect(run.output()).toEqual({ error: REJECTION });
      else if (error) {
        expect(run.output()).toEqual({
          error: {
            code: error,
            message: expect.stringContaining(`after ${SIGNALING_SETTINGS.initialAttempts} attempts (last: ${lastFailure})`),
          },
        });
      } else expect(run.output(), 'output before the end').toBeUndefined();
    },
  };
}

const runEach = (paths: ModelPath<SignalingModelEvent>[]) =>
  it.each(paths.map((path) => [path.title, path] as const))('%s', async (_, path) => {
    await runPath(signalingModel, path, signalingHarness());
  });

describe('signaling actor against its model', () => {
  describe(`connection lifecycle: all ${simplePaths.length} simple paths`, () => runEach(simplePaths));
  describe(`full model: ${shortestPaths.length} shortest paths, one per model transition`, () => runEach(shortestPaths));

  it('reaches every state and transition of the real machine', async () => {
    const all = [...simplePaths, ...shortestPaths];
    const { ratio, missingStates, missingTransitions } = await measureCoverage(signalingMachine, (inspect) => runAll(signalingModel, all, () => signalingHarness(inspect)));
    console.log(
      `signaling model: ${simplePaths.length} simple + ${shortestPaths.length} shortest = ${all.length} paths; ` +
        `states ${ratio.states}, transitions ${ratio.transitions}`,
    );
    expect(missingStates, 'states no path reaches').toEqual([]);
    expect(missingTransitions, 'transitions no path takes').toEqual([]);
  });
});
