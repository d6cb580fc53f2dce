/**
 * Model-based tests of the node supervisor: every path of test/models/node.model.ts drives the real
 * nodeMachine and real peer actors, with a scripted signaling actor and fake transports, and checks the
 * supervisor against the model after every step.
 */
import { describe, expect, it } from 'vitest';
import {
  createActor,
  fromCallback,
  sendParent,
  setup,
  SimulatedClock,
  type AnyActorRef,
  type AnyMachineSnapshot,
  type InspectionEvent,
} from 'xstate';
import type { Logger } from '../src/log.js';
import { nodeMachine, peerActorId } from '../src/machines/node.machine.js';
import { peerConnectionMachine } from '../src/machines/peerConnection.machine.js';
import type { SignalingInput, SignalingNotice, SignalingOutput } from '../src/machines/signaling.machine.js';
import { generateIdentity } from '../src/wire/identity.js';
import type { SocketCommand } from '../src/services/socketClient.js';
import type { DhtMachineEvent } from '../src/machines/dht.machine.js';
import type { Overlay, OverlayCommand } from '../src/services/overlay.js';
import type { IceServer, TransportCommand, TransportEvent, TransportInput } from '../src/services/webrtcTransport.js';
import { Envelopes, type SignalData } from '../src/wire/envelope.js';
import { measureCoverage } from './models/coverage.js';
import { canHappen, MAX_NEGOTIATING, MAX_PEERS, NODE_MODEL_EVENTS, nodeModel, type NodeModelEvent, type Outcome } from './models/node.model.js';
import { modelPaths, runAll, runPath, type Harness, type ModelPath } from './models/run.js';

/** What the supervisor logs for each signal it can no longer send. */
const SIGNAL_LOST = 'warn: signaling has failed; a signal to this peer is lost';
import { candidate, offer, PEER_TIMEOUTS, signal, transportDefaults, type FakeInstance } from './support/fakes.js';

/** Sorts after every remote id, so a remote's new offer always wins glare and is adopted, whatever the peer's role. */
const LOCAL_ID = 'z'.repeat(64);
/** The route through the overlay every overlay event of the test names. */
const ROUTE = ['relay-a', 'relay-b'];
const GAVE_UP: SignalingOutput = { error: { code: 'ERR_SIGNALING_UNREACHABLE', message: 'cannot reach the test server' } };

/** Every ordering of signaling outages with new connections, up to and beyond the peer limit. */
const outagesWithConnects = (snapshot: AnyMachineSnapshot, event: NodeModelEvent) =>
  canHappen(snapshot, event) &&
  (['START', 'START.DHT', 'STOP', 'SIGNALING.REGISTERED', 'SIGNALING.LOST', 'SIGNALING.GAVE_UP'].includes(event.type) ||
    (event.type === 'USER.CONNECT' && event.peer === 'unknown'));

const simplePaths = modelPaths(nodeModel, { strategy: 'simple', events: NODE_MODEL_EVENTS, filter: outagesWithConnects });
const shortestPaths = modelPaths(nodeModel, {
  strategy: 'shortest',
  events: NODE_MODEL_EVENTS,
  filter: canHappen,
  verdicts: ['did'],
});

type FakeSignalingEvent =
  | { type: 'CONNECT' }
  | SocketCommand
  | { type: 'FAKE.TELL'; notice: SignalingNotice }
  | { type: 'FAKE.GIVE_UP' };

/** Stands in for the signaling actor: records what the supervisor asks of it, tells it what the test scripts. */
function scriptedSignaling() {
  const asked: (FakeSignalingEvent & { type: 'CONNECT' | 'SEND' })[] = [];
  const machine = setup({ types: { events: {} as FakeSignalingEvent, output: {} as SignalingOutput } }).createMachine({
    id: 'scriptedSignaling',
    initial: 'running',
    states: {
      running: {
        on: {
          CONNECT: { actions: ({ event }) => asked.push(event) },
          SEND: { actions: ({ event }) => asked.push(event) },
          'FAKE.TELL': { actions: sendParent(({ event }) => event.notice) },
          'FAKE.GIVE_UP': 'gaveUp',
        },
      },
      gaveUp: { type: 'final' },
    },
    output: GAVE_UP,
  });
  return { machine, asked };
}

type FakeDhtEvent = OverlayCommand | { type: 'FAKE.TELL'; event: DhtMachineEvent };

/** Stands in for the DHT machine: records what the supervisor asks of it, passes up what the test scripts. */
function scriptedDht() {
  const asked: OverlayCommand[] = [];
  const machine = setup({ types: { events: {} as FakeDhtEvent } }).createMachine({
    id: 'scriptedDht',
    on: {
      JOIN: { actions: ({ event }) => asked.push(event) },
      SEND: { actions: ({ event }) => asked.push(event) },
      CONNECT_FAILED: { actions: ({ event }) => asked.push(event) },
      'FAKE.TELL': { actions: sendParent(({ event }) => event.event) },
    },
  });
  return { machine, asked };
}

type Transport = FakeInstance<TransportInput, TransportCommand, TransportEvent> & { crash(): void; crashed: boolean };

/** Like fakeTransport(), plus `crash()`: a transport that throws is how a peer actor really fails. */
function crashableTransports() {
  const instances: Transport[] = [];
  const CRASH = { type: 'CRASH' } as unknown as TransportCommand;
  const logic = fromCallback<TransportCommand, TransportInput, TransportEvent>(
    ({ input, sendBack, receive, self }) => {
      const instance: Transport = {
        input,
        commands: [],
        stopped: false,
        crashed: false,
        emit: (event) => {
          if (!instance.stopped) sendBack(event);
        },
        crash: () => {
          // XState runs no cleanup for an actor that threw, so `stopped` would stay false.
          instance.crashed = true;
          self.send(CRASH);
        },
      };
      instances.push(instance);
      receive((command) => {
        if (command === CRASH) throw new Error('transport crashed');
        instance.commands.push(command);
      });
      return () => {
        instance.stopped = true;
      };
    },
  );
  return { logic, instances };
}

function recordingLogger(lines: string[]): Logger {
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (_, msg) => lines.push(`warn: ${msg}`),
    error: (_, msg) => lines.push(`error: ${msg}`),
    child: () => logger,
  };
  return logger;
}

const identity = generateIdentity();
/** The node's own ICE server; the signaling server's come after it. */
const CONFIGURED_ICE = { urls: 'stun:stun.test:3478' };

/** The real supervisor with real peer actors, and what the model says it must have done so far. */
function nodeHarness(inspect?: (event: InspectionEvent) => void): Harness<NodeModelEvent> {
  const signaling = scriptedSignaling();
  const transports = crashableTransports();
  const logs: string[] = [];
  const errors: unknown[] = [];
  const signalingInput: SignalingInput = {
    urls: ['http://signaling.test'],
    identity,
    envelopes: new Envelopes(identity),
    logger: recordingLogger(logs),
    timeouts: { connect: 1000, register: 1000 },
    backoff: { initialMs: 100, maxMs: 1000, jitter: 0 },
    initialAttempts: 3,
    queueLimit: 10,
  };
  const dht = scriptedDht();
  const machine = nodeMachine.provide({
    actors: {
      signaling: signaling.machine as never,
      peer: peerConnectionMachine.provide({ actors: { transport: transports.logic } }),
      dht: dht.machine as never,
    },
  });
  /** A supervisor, idle until START; `withDht` gives it a DHT (the scripted one: the overlay itself is never used). */
  const boot = (withDht: boolean) => {
    const actor = createActor(machine, {
      clock: new SimulatedClock(),
      inspect,
      input: {
        localId: LOCAL_ID,
        signaling: signalingInput,
        peerTimeouts: PEER_TIMEOUTS,
        transport: { ...transportDefaults(), iceServers: [CONFIGURED_ICE] },
        maxPeers: MAX_PEERS,
        maxNegotiating: MAX_NEGOTIATING,
        ...(withDht ? { dht: { overlay: {} as Overlay, minContacts: 1 } } : {}),
      },
    });
    // A crash of the supervisor is a failed check, not an unhandled error.
    actor.subscribe({ error: (err) => errors.push(err) });
    return actor.start();
  };
  let node = boot(false);

  /** Live peers, oldest first: the oldest is the one the model's `known` events are about. */
  const peers: string[] = [];
  let named = 0;
  let sessions = 0;
  const newId = () => `peer-${String(++named).padStart(2, '0')}`;
  const expectedAsks: unknown[] = [];
  const expectedDhtAsks: unknown[] = [];
  /** The peers whose session runs through the overlay, and the route each got. */
  const routes = new Map<string, string[]>();
  /** What the server introduced at the last registration, for the DHT to join through. */
  let introduced: string[] = [];
  const expectedLogs: string[] = [];
  let expectedTransports = 0;
  /** What the last step sent in, for the checks of its outcome. */
  let last: { peer?: string; session?: string; data?: SignalData; sessions?: [string, string][] } = {};
  let signalingAtStop: AnyActorRef | undefined;
  let registrations = 0;
  /** What the last registration issued: every other one issues nothing, as a server without a relay would. */
  let issued: IceServer[] = [];

  const signalingRef = () => node.getSnapshot().children.signaling as AnyActorRef | undefined;
  const tell = (notice: SignalingNotice) => signalingRef()!.send({ type: 'FAKE.TELL', notice });
  const peerContext = (id: string) => node.getSnapshot().context.peers[id]!.getSnapshot().context;
  const transportsOf = (id: string) => transports.instances.filter((t) => t.input.remoteId === id);
  const liveTransport = (id: string) => transportsOf(id).at(-1)!;
  const known = () => peers[0]!;
  const signalingAlive = (model: AnyMachineSnapshot) => !model.matches({ running: 'signalingFailed' });
  const hasDht = (model: AnyMachineSnapshot) => (model.context as { dht: boolean }).dht;
  const tellDht = (event: DhtMachineEvent) => (node.getSnapshot().children.dht as AnyActorRef).send({ type: 'FAKE.TELL', event });
  const forget = (id: string, model: AnyMachineSnapshot) => {
    peers.splice(peers.indexOf(id), 1);
    routes.delete(id);
    // The supervisor tells the DHT of every peer actor that ends (an attempt of its own may have failed).
    if (hasDht(model)) expectedDhtAsks.push({ type: 'CONNECT_FAILED', peerId: id });
  };
  /** Where a peer's signal goes from `model`'s state: the overlay, the server, or nowhere. */
  const signalPath = (model: AnyMachineSnapshot, id: string): 'overlay' | 'server' | 'lost' => {
    const serverUp = model.matches({ running: 'online' }) || model.matches({ running: 'connecting' });
    if (routes.has(id) || (hasDht(model) && !serverUp)) return 'overlay';
    return signalingAlive(model) ? 'server' : 'lost';
  };
  const expectSignal = (model: AnyMachineSnapshot, to: string, session: string | undefined, data: SignalData) => {
    const path = signalPath(model, to);
    if (path === 'overlay') expectedDhtAsks.push({ type: 'SEND', to, session, data, via: routes.get(to) ?? [] });
    else if (path === 'server') expectedAsks.push({ type: 'SEND', to, session, data });
    else expectedLogs.push(SIGNAL_LOST);
  };

  /** Applies the model's verdict on the step to what the test expects of the real supervisor. */
  function expectOutcome(outcome: Outcome, before: AnyMachineSnapshot): void {
    const { peer, session, data } = last;
    switch (outcome) {
      case 'askedSignalingToConnect':
        expectedAsks.push({ type: 'CONNECT' });
        break;
      case 'spawnedInitiator':
      case 'spawnedResponder':
        peers.push(peer!);
        expectedTransports += 1;
        break;
      case 'spawnedOverlayInitiator':
      case 'spawnedOverlayResponder':
        peers.push(peer!);
        routes.set(peer!, ROUTE);
        expectedTransports += 1;
        break;
      case 'routedOverlayOffer':
        routes.set(peer!, ROUTE);
        expectedTransports += 1;
        break;
      case 'refusedOverlayConnect':
        expectedDhtAsks.push({ type: 'CONNECT_FAILED', peerId: peer });
        break;
      case 'refusedOverlayOffer':
        expectedLogs.push('warn: peer limit reached');
        expectedDhtAsks.push({ type: 'SEND', to: peer, session, data: { type: 'reject', code: 'ERR_TOO_MANY_PEERS' }, via: ROUTE });
        break;
      case 'refusedOverlayBusy':
        expectedLogs.push('warn: too many peers negotiating; offer refused');
        expectedDhtAsks.push({ type: 'SEND', to: peer, session, data: { type: 'reject', code: 'ERR_BUSY' }, via: ROUTE });
        break;
      case 'askedDhtToJoin':
        expectedDhtAsks.push({ type: 'JOIN', peers: introduced });
        break;
      case 'relayedViaOverlay':
        expectedDhtAsks.push({ type: 'SEND', to: peer, session, data, via: routes.get(peer!) ?? [] });
        break;
      case 'routedOffer':
        // The peer adopts the new session: a fresh transport, fed the new offer.
        expectedTransports += 1;
        break;
      case 'refusedOffer':
        expectedLogs.push('warn: peer limit reached');
        expectedAsks.push({ type: 'SEND', to: peer, session, data: { type: 'reject', code: 'ERR_TOO_MANY_PEERS' } });
        break;
      case 'refusedBusy':
        expectedLogs.push('warn: too many peers negotiating; offer refused');
        expectedAsks.push({ type: 'SEND', to: peer, session, data: { type: 'reject', code: 'ERR_BUSY' } });
        break;
      case 'refusedConnect':
        expectedLogs.push('warn: peer limit reached');
        break;
      case 'droppedStray':
        expectedLogs.push('warn: no peer actor for this signal');
        break;
      case 'relayedSignal':
        expectedAsks.push({ type: 'SEND', to: peer, session, data });
        break;
      case 'lostSignal':
        expectedLogs.push(SIGNAL_LOST);
        break;
      case 'closedPeer':
        // A peer closed while negotiating tells the remote side, if signaling or the overlay can still carry it.
        expectSignal(before, peer!, session, { type: 'reject', code: 'closed' });
        forget(peer!, before);
        break;
      case 'failedNegotiations':
        for (const [id, session] of last.sessions!) {
          expectedAsks.push({ type: 'SEND', to: id, session, data: { type: 'reject', code: 'signaling-lost' } });
        }
        peers.splice(0);
        break;
      case 'forgotCrashed':
        expectedLogs.push('error: peer actor failed');
        forget(peer!, before);
        break;
      case 'routedFailure':
      case 'forgotFinished':
        forget(peer!, before);
        break;
      default:
        break;
    }
  }

  /** The outcome-specific checks; the general ones run after every step. */
  function checkOutcome(outcome: Outcome): void {
    const { peer, data } = last;
    if (['spawnedInitiator', 'spawnedResponder', 'spawnedOverlayInitiator', 'spawnedOverlayResponder'].includes(outcome)) {
      expect(liveTransport(peer!).input.iceServers, 'own ICE servers, then the last registration’s').toEqual([CONFIGURED_ICE, ...issued]);
    }
    switch (outcome) {
      case 'spawnedInitiator':
      case 'spawnedOverlayInitiator':
        expect(liveTransport(peer!).input.initiator, 'new initiator transport').toBe(true);
        expect(peerContext(peer!).role).toBe('initiator');
        break;
      case 'spawnedResponder':
      case 'spawnedOverlayResponder':
      case 'routedOffer':
      case 'routedOverlayOffer':
        expect(liveTransport(peer!).input.initiator, 'responder transport').toBe(false);
        expect(liveTransport(peer!).commands, 'offer fed to the transport').toEqual([{ type: 'REMOTE_SIGNAL', data }]);
        expect(peerContext(peer!).session, 'session adopted').toBe(last.session);
        break;
      case 'routedCandidate':
        expect(liveTransport(peer!).commands.at(-1), 'candidate fed to the transport').toEqual({ type: 'REMOTE_SIGNAL', data });
        break;
      case 'recordedSignalingError':
        expect(node.getSnapshot().context.signalingError).toEqual(GAVE_UP.error);
        break;
      case 'stoppedEverything':
        expect(node.getSnapshot().status).toBe('done');
        expect(signalingAtStop?.getSnapshot().status, 'signaling actor after STOP').not.toBe('active');
        break;
      default:
        break;
    }
  }

  return {
    perform(event, before, after) {
      const { did } = after.context as { did: Outcome };
      last = {};
      switch (event.type) {
        case 'START':
          node.send({ type: 'START' });
          break;
        case 'START.DHT':
          node.stop();
          node = boot(true);
          node.send({ type: 'START' });
          break;
        case 'STOP':
          signalingAtStop = signalingRef();
          node.send({ type: 'STOP' });
          break;
        case 'SIGNALING.REGISTERED':
          registrations += 1;
          issued = registrations % 2 === 1 ? [{ urls: ['turn:relay.test:3478'], username: `${registrations}:${LOCAL_ID}`, credential: 'c' }] : [];
          introduced = [`introduced-${registrations}`];
          tell({ type: 'SIGNALING.REGISTERED', nodeId: LOCAL_ID, iceServers: issued.length > 0 ? issued : undefined, peers: introduced });
          break;
        case 'SIGNALING.LOST':
          last = { sessions: peers.map((id) => [id, peerContext(id).session]) };
          tell({ type: 'SIGNALING.LOST', reason: 'transport close' });
          break;
        case 'SIGNALING.GAVE_UP':
          signalingRef()!.send({ type: 'FAKE.GIVE_UP' });
          break;
        case 'USER.CONNECT':
          last = { peer: event.peer === 'known' ? known() : newId() };
          node.send({ type: 'CONNECT', peerId: last.peer! });
          break;
        case 'USER.DISCONNECT': {
          const peer = event.peer === 'known' ? known() : newId();
          // Read now: the peer actor is gone once the step is over.
          last = { peer, session: event.peer === 'known' ? peerContext(peer).session : undefined };
          node.send({ type: 'DISCONNECT', peerId: peer });
          break;
        }
        case 'REMOTE.OFFER': {
          const peer = event.peer === 'known' ? known() : newId();
          // A known peer's offer opens a new session, as a restarted remote node would.
          last = { peer, session: `session-${++sessions}`, data: offer(`offer from ${peer}`) };
          tell({ type: 'SIGNAL.IN', signal: signal(peer, last.session!, last.data!) });
          break;
        }
        case 'REMOTE.CANDIDATE': {
          const peer = event.peer === 'known' ? known() : newId();
          last = { peer, session: event.peer === 'known' ? peerContext(peer).session : `session-${++sessions}`, data: candidate() };
          tell({ type: 'SIGNAL.IN', signal: signal(peer, last.session!, last.data!) });
          break;
        }
        case 'SIGNAL.FAILED': {
          const peer = event.peer === 'known' ? known() : newId();
          last = { peer, session: event.peer === 'known' ? peerContext(peer).session : `session-${++sessions}` };
          tell({ type: 'SIGNAL.FAILED', to: peer, session: last.session!, error: { code: 'ERR_UNKNOWN_PEER', message: 'not registered' } });
          break;
        }
        case 'PEER.SIGNAL':
          last = { peer: known(), session: peerContext(known()).session, data: candidate() };
          liveTransport(known()).emit({ type: 'TRANSPORT.SIGNAL', data: last.data! });
          break;
        case 'PEER.DONE':
          last = { peer: known() };
          liveTransport(known()).emit({ type: 'TRANSPORT.CLOSED' });
          break;
        case 'PEER.ERROR':
          last = { peer: known() };
          liveTransport(known()).crash();
          break;
        case 'OVERLAY.CONNECT':
          last = { peer: event.peer === 'known' ? known() : newId() };
          tellDht({ type: 'OVERLAY.CONNECT', peerId: last.peer!, via: ROUTE });
          break;
        case 'OVERLAY.OFFER': {
          const peer = event.peer === 'known' ? known() : newId();
          last = { peer, session: `session-${++sessions}`, data: offer(`offer from ${peer}`) };
          tellDht({ type: 'SIGNAL.IN', signal: signal(peer, last.session!, last.data!), via: ROUTE });
          break;
        }
        case 'OVERLAY.FAILED': {
          const peer = event.peer === 'known' ? known() : newId();
          last = { peer, session: event.peer === 'known' ? peerContext(peer).session : `session-${++sessions}` };
          tellDht({ type: 'OVERLAY.SIGNAL_FAILED', to: peer, session: last.session! });
          break;
        }
        case 'OVERLAY.BOOTSTRAP':
          tellDht({ type: 'OVERLAY.BOOTSTRAP' });
          break;
      }
      expectOutcome(did, before);
    },

    verify(model) {
      const { did, peers: { length: count } } = model.context as { did: Outcome; peers: boolean[] };
      const real = node.getSnapshot();
      expect(errors, 'supervisor errors').toEqual([]);
      expect(real.value, 'state').toEqual(model.value);
      checkOutcome(did);

      expect(peers.length, 'the test tracks as many peers as the model').toBe(count);
      if (real.status === 'active') {
        const children = Object.keys(real.children).filter((id) => id.startsWith('peer.'));
        expect(children.sort(), 'peer actors').toEqual(peers.map(peerActorId).sort());
        expect(Object.keys(real.context.peers).sort(), 'peers known to the supervisor').toEqual([...peers].sort());
      }
      // Exactly the newest transport of each live peer is open; every other one was stopped.
      expect(transports.instances.length, 'transports started').toBe(expectedTransports);
      const open = transports.instances.filter((t) => !t.stopped && !t.crashed);
      const stillOpen = real.status === 'active' ? peers.map(liveTransport) : [];
      expect(open.length, 'open transports').toBe(stillOpen.length);
      for (const t of stillOpen) expect(open, `the transport of ${t.input.remoteId} is open`).toContain(t);

      expect(signaling.asked, 'what the signaling actor was asked').toEqual(expectedAsks);
      expect(dht.asked, 'what the DHT was asked').toEqual(expectedDhtAsks);
      expect(logs, 'supervisor log').toEqual(expectedLogs);
    },
  };
}

const runEach = (paths: ModelPath<NodeModelEvent>[]) =>
  it.each(paths.map((path) => [path.title, path] as const))('%s', async (_, path) => {
    await runPath(nodeModel, path, nodeHarness());
  });

describe('node supervisor against its model', () => {
  describe(`signaling outages with connects: all ${simplePaths.length} simple paths`, () => runEach(simplePaths));
  describe(`full model: ${shortestPaths.length} shortest paths, one per model transition`, () => runEach(shortestPaths));

  it('reaches every state and transition of the real machine', async () => {
    const all = [...simplePaths, ...shortestPaths];
    const { ratio, missingStates, missingTransitions } = await measureCoverage(nodeMachine, (inspect) => runAll(nodeModel, all, () => nodeHarness(inspect)));
    console.log(
      `node model: ${simplePaths.length} simple + ${shortestPaths.length} shortest = ${all.length} paths; ` +
        `states ${ratio.states}, transitions ${ratio.transitions}`,
    );
    expect(missingStates, 'states no path reaches').toEqual([]);
    expect(missingTransitions, 'transitions no path takes').toEqual([]);
  });
});
