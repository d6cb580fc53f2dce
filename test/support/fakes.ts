import { assign, createActor, fromCallback, setup, SimulatedClock, type AnyActorRef, type AnyStateMachine, type InspectionEvent } from 'xstate';
import { DataPlane } from '../../src/data/dataPlane.js';
import { generateIdentity } from '../../src/index.js';
import { silentLogger } from '../../src/log.js';
import type { CarrierCommand, SocketEvent, SocketInput } from '../../src/services/socketClient.js';
import type { TransportCommand, TransportEvent, TransportInput } from '../../src/services/webrtcTransport.js';
import type { SignalData, VerifiedSignal } from '../../src/wire/envelope.js';

/** One started instance of a fake callback actor: what it received, and a handle to talk back. */
export interface FakeInstance<TInput, TCommand, TEvent> {
  input: TInput;
  commands: TCommand[];
  emit(event: TEvent): void;
  stopped: boolean;
}

/** Callback-actor logic that records every instance, so tests can drive it like the real IO. */
export function fakeLogic<TInput, TCommand extends { type: string }, TEvent extends { type: string }>() {
  const instances: FakeInstance<TInput, TCommand, TEvent>[] = [];
  const logic = fromCallback<TCommand, TInput, TEvent>(({ input, sendBack, receive }) => {
    const instance: FakeInstance<TInput, TCommand, TEvent> = {
      input,
      commands: [],
      emit: (event) => {
        if (!instance.stopped) sendBack(event);
      },
      stopped: false,
    };
    instances.push(instance);
    receive((command) => instance.commands.push(command));
    return () => {
      instance.stopped = true;
    };
  });
  return { logic, instances, last: () => instances.at(-1)! };
}

export const fakeTransport = () => fakeLogic<TransportInput, TransportCommand, TransportEvent>();
export const fakeSocket = () => fakeLogic<SocketInput, CarrierCommand, SocketEvent>();

export const PEER_TIMEOUTS = { offer: 1000, answer: 500, ice: 2000, verify: 300, flush: 700 };

export const transportDefaults = () => ({
  iceServers: [],
  dataPlane: new DataPlane(),
  link: {},
  logger: silentLogger,
});

export const offer = (sdp = 'v=0 offer'): SignalData => ({ type: 'offer', sdp });
export const answer = (sdp = 'v=0 answer'): SignalData => ({ type: 'answer', sdp });
export const candidate = (): SignalData => ({
  type: 'candidate',
  candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMLineIndex: 0, sdpMid: '0' },
});

export function signal(from: string, session: string, data: SignalData, seq = 0): VerifiedSignal {
  return { from, session, seq, kind: data.type, data, sealed: true };
}

/** Two ids in a known order, for glare tests (the smaller id keeps its offer). */
export function orderedIds(): { small: string; large: string } {
  const [x, y] = [generateIdentity().nodeId, generateIdentity().nodeId];
  return x < y ? { small: x, large: y } : { small: y, large: x };
}

/**
 * Runs `child` under a parent that records whatever the child sends it, with a simulated clock, so
 * tests see exactly what a supervisor would. `inspect` sees everything from the child's first microstep.
 */
export function underParent(child: AnyStateMachine, input: unknown, clock = new SimulatedClock(), inspect?: (event: InspectionEvent) => void) {
  const received: { type: string; [key: string]: unknown }[] = [];
  const parent = setup({ actors: { child } }).createMachine({
    context: { output: undefined as unknown },
    invoke: {
      id: 'child',
      src: 'child',
      input: () => input,
      onDone: { actions: assign({ output: ({ event }) => event.output }) },
    },
    on: { '*': { actions: ({ event }) => received.push(event as never) } },
  });
  const actor = createActor(parent, { clock, inspect });
  actor.subscribe({ error: (err) => received.push({ type: 'ERROR', err }) });
  actor.start();
  const child$ = () => actor.getSnapshot().children.child as AnyActorRef | undefined;
  return {
    clock,
    actor,
    received,
    child: child$,
    send: (event: unknown) => child$()?.send(event as never),
    state: () => child$()?.getSnapshot().value,
    output: () => actor.getSnapshot().context.output as never,
  };
}
