/**
 * Model-based tests: every path of the abstract peer-connection model (test/models) drives the real
 * peer actor, with a fake transport and a simulated clock, and the real snapshot is checked against
 * the model after every step. A coverage test then proves the paths reach the whole real machine.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock, type InspectionEvent } from 'xstate';
import {
  CLOSE_GRACE_MS,
  peerConnectionMachine,
  type PeerEvent,
  type PeerInput,
  type PeerOutput,
  type PeerSignal,
} from '../src/machines/peerConnection.machine.js';
import type { TransportCommand, TransportEvent } from '../src/services/webrtcTransport.js';
import { NO_CANDIDATES, countCandidate, diagnoseIceFailure, type CandidateTally } from '../src/webrtc/iceDiagnosis.js';
import type { SignalData } from '../src/wire/envelope.js';
import { measureCoverage } from './models/coverage.js';
import {
  effectsOf,
  peerConnectionModel,
  peerModelPaths,
  timerOf,
  type ModelEffect,
  type ModelContext,
  type ModelEvent,
  type ModelPath,
  type ModelSnapshot,
} from './models/peerConnection.model.js';
import { runPath } from './models/run.js';
import { PEER_TIMEOUTS, answer, candidate, fakeTransport, offer, orderedIds, signal, transportDefaults, underParent } from './support/fakes.js';

type Inspect = (event: InspectionEvent) => void;

const IDS = orderedIds();
const OWN_SESSION = 'own-session';
const STALE_SESSION = 'stale-session';
const reject = (code: string): SignalData => ({ type: 'reject', code });

/** A fresh offer from the peer, for a session of its own. */
interface TheirOffer {
  session: string;
  data: SignalData;
}

/** One model path run against the real actor: does what each model event stands for, checks each model state. */
class PathRun {
  readonly #transport = fakeTransport();
  readonly #clock = new SimulatedClock();
  #real?: ReturnType<typeof underParent>;
  #remote = '';
  #session = '';
  #offers = 0;
  /** Whether the live transport is the one that made our own offer. */
  #initiatorTransport = false;
  readonly #expectedTold: PeerSignal[] = [];
  /** Commands the live transport must have received. */
  #expectedCommands: TransportCommand[] = [];
  /** The candidates of the current session that the actor passed on, which an ICE failure's detail must list. */
  #candidates: CandidateTally = NO_CANDIDATES;

  readonly #inspect?: Inspect;

  constructor(inspect?: Inspect) {
    this.#inspect = inspect;
  }

  /** Makes the environment do `event` to the real actor, then expects what the model says follows. */
  perform(event: ModelEvent, before: ModelSnapshot, after: ModelSnapshot): void {
    const stimulus = this.#stimulate(event, before);
    for (const effect of effectsOf(before, event)) this.#expect(effect, stimulus, after);
  }

  check(model: ModelSnapshot): void {
    if (!this.#real) {
      expect(model.value).toBe('idle');
      return;
    }
    const snapshot = this.#real.child()!.getSnapshot();
    expect(snapshot.value).toBe(model.value);
    expect(snapshot.status).toBe(model.status);
    expect(this.#real.received).toEqual(this.#expectedTold);
    const live = this.#transport.instances.filter((instance) => !instance.stopped);
    const end = model.context.end;
    if (end) {
      expect(snapshot.output).toEqual(this.#output(end));
      expect(live).toHaveLength(0);
      return;
    }
    expect(live).toHaveLength(1);
    expect(live[0]).toBe(this.#transport.last());
    expect(this.#transport.last().input).toMatchObject({ remoteId: this.#remote, initiator: this.#initiatorTransport });
    expect(this.#transport.last().commands).toEqual(this.#expectedCommands);
  }

  /** The output the model's `end` stands for: an ICE failure is worded from the candidates this run signaled. */
  #output({ ice, ...end }: NonNullable<ModelContext['end']>): PeerOutput {
    if (!ice) return { remoteId: this.#remote, ...end };
    const failure = ice === 'timeout' ? { timeoutMs: PEER_TIMEOUTS.ice } : ice;
    return { remoteId: this.#remote, reason: end.reason, detail: diagnoseIceFailure(failure, this.#candidates) };
  }

  /** Does what `event` stands for; returns the signal data it carried, if any. */
  #stimulate(event: ModelEvent, before: ModelSnapshot): SignalData | TheirOffer | undefined {
    switch (event.type) {
      case 'SPAWN.INITIATOR':
        return this.#spawn(event.localId);
      case 'SPAWN.RESPONDER':
        return this.#spawn('smaller', this.#freshOffer());
      case 'LOCAL.OFFER':
        return this.#emitSignal(offer('local offer'));
      case 'LOCAL.ANSWER':
        return this.#emitSignal(answer('local answer'));
      case 'LOCAL.CANDIDATE':
        return this.#emitSignal(candidate());
      case 'REMOTE.ANSWER':
        return this.#signalIn(this.#session, answer('remote answer'));
      case 'REMOTE.CANDIDATE':
        return this.#signalIn(this.#session, candidate());
      case 'REMOTE.REJECT':
        return this.#signalIn(this.#session, reject(event.code));
      case 'REMOTE.STALE':
        // A restart offer (sequence 1) of a session that ended here must not open it again.
        if (event.kind === 'restart-offer') return this.#signalIn(STALE_SESSION, offer('stale restart offer'), 1);
        return this.#signalIn(STALE_SESSION, event.kind === 'candidate' ? candidate() : reject('closed'));
      case 'REMOTE.RESTART':
        return this.#signalIn(this.#session, event.kind === 'offer' ? offer('restart offer') : { type: 'restart' });
      case 'REMOTE.NEW_OFFER': {
        const theirs = this.#freshOffer();
        this.#signalIn(theirs.session, theirs.data);
        return theirs;
      }
      case 'TRANSPORT.OPEN':
      case 'TRANSPORT.CLOSED':
        return this.#emit({ type: event.type });
      case 'TRANSPORT.VERIFIED':
        return this.#emit({ type: event.type, route: this.#nextRoute() });
      case 'TRANSPORT.STALLED':
        return this.#emit({ type: event.type, detail: event.detail });
      case 'TRANSPORT.RECOVERED':
        return this.#emit({ type: event.type, route: this.#nextRoute() });
      case 'TRANSPORT.ERROR':
        return this.#emit({ type: event.type, reason: event.reason, message: event.message });
      case 'TRANSPORT.AUTH_FAILED':
        return this.#emit({ type: event.type, message: event.message });
      case 'SIGNALING.FAILED':
        return this.#send({
          type: 'SIGNAL.FAILED',
          session: event.session === 'current' ? this.#session : STALE_SESSION,
          error: { code: event.code, message: event.message },
        });
      case 'SIGNALING.LOST':
        return this.#send({ type: event.type });
      case 'USER.CLOSE':
        return this.#send(event.force ? { type: 'CLOSE', force: true } : { type: 'CLOSE' });
      case 'TRANSPORT.LOST':
        return this.#emit({ type: event.type, detail: event.detail });
      case 'TRANSPORT.REMOTE_END':
        return this.#emit({ type: event.type });
      case 'TRANSPORT.ENDED':
        return this.#emit({ type: event.type, acknowledged: event.acknowledged, unsent: event.unsent });
      case 'TIMEOUT':
        return this.#runOutTimer(before);
    }
  }

  #expect(effect: ModelEffect, stimulus: SignalData | TheirOffer | undefined, after: ModelSnapshot): void {
    switch (effect) {
      case 'relay':
        this.#expectedTold.push(this.#toPeer(stimulus as SignalData));
        this.#candidates = countCandidate(this.#candidates, 'local', stimulus as SignalData);
        return;
      case 'forward':
        this.#expectedCommands.push({ type: 'REMOTE_SIGNAL', data: stimulus as SignalData });
        this.#candidates = countCandidate(this.#candidates, 'remote', stimulus as SignalData);
        return;
      case 'adopt': {
        const { session, data } = stimulus as TheirOffer;
        this.#session = session;
        this.#initiatorTransport = false;
        this.#expectedCommands = [{ type: 'REMOTE_SIGNAL', data }];
        this.#candidates = NO_CANDIDATES;
        return;
      }
      case 'requestVerification':
        this.#expectedCommands.push({ type: 'VERIFY' });
        return;
      case 'restart':
        this.#expectedCommands.push({ type: 'RESTART' });
        return;
      case 'reroute':
        expect(this.#real!.child()!.getSnapshot().context.route).toEqual(this.#route());
        return;
      case 'endStream':
        this.#expectedCommands.push({ type: 'END', timeoutMs: PEER_TIMEOUTS.flush });
        return;
      case 'tellPeer':
        this.#expectedTold.push(this.#toPeer(reject(after.context.end!.reason)));
        return;
      case 'drop':
        return;
    }
  }

  #spawn(localId: 'smaller' | 'larger', theirs?: TheirOffer): undefined | TheirOffer {
    const [local, remote] = localId === 'smaller' ? [IDS.small, IDS.large] : [IDS.large, IDS.small];
    this.#remote = remote;
    [this.#session, this.#initiatorTransport] = theirs ? [theirs.session, false] : [OWN_SESSION, true];
    const input: PeerInput = {
      localId: local,
      remoteId: remote,
      role: theirs ? 'responder' : 'initiator',
      session: this.#session,
      offer: theirs?.data,
      timeouts: PEER_TIMEOUTS,
      transport: transportDefaults(),
    };
    const machine = peerConnectionMachine.provide({ actors: { transport: this.#transport.logic } });
    this.#real = underParent(machine, input, this.#clock, this.#inspect);
    return theirs;
  }

  /** Each verification reads another local port, so a route that was not taken again shows. */
  #verifications = 0;
  #route() {
    return { route: 'host' as const, local: `127.0.0.1:${this.#verifications}`, remote: '127.0.0.1:2' };
  }
  #nextRoute() {
    this.#verifications++;
    return this.#route();
  }

  #freshOffer(): TheirOffer {
    const n = this.#offers++;
    return { session: `their-session-${n}`, data: offer(`their offer ${n}`) };
  }

  #emitSignal(data: SignalData): SignalData {
    this.#emit({ type: 'TRANSPORT.SIGNAL', data });
    return data;
  }

  #signalIn(session: string, data: SignalData, seq = 0): SignalData {
    this.#send({ type: 'SIGNAL.IN', signal: signal(this.#remote, session, data, seq) });
    return data;
  }

  /** Runs the clock to the timer's limit: not a millisecond early, and then it must fire. */
  #runOutTimer(before: ModelSnapshot): undefined {
    const timer = timerOf(before);
    if (!timer) throw new Error(`the model has TIMEOUT in ${String(before.value)}, which names no timer`);
    // Closing waits a grace period past the flush timeout, for the transport's own report of it.
    const limit = PEER_TIMEOUTS[timer] + (timer === 'flush' ? CLOSE_GRACE_MS : 0);
    this.#clock.increment(limit - 1);
    expect(this.#real!.state()).toBe(before.value);
    this.#clock.increment(1);
    return undefined;
  }

  #toPeer(data: SignalData): PeerSignal {
    return { type: 'PEER.SIGNAL', to: this.#remote, session: this.#session, data };
  }

  #emit(event: TransportEvent): undefined {
    this.#transport.last().emit(event);
    return undefined;
  }

  #send(event: PeerEvent): undefined {
    this.#real!.send(event);
    return undefined;
  }
}

function drive(path: ModelPath, inspect?: Inspect): Promise<void> {
  const run = new PathRun(inspect);
  return runPath(peerConnectionModel, path, {
    perform: (event, before, after) => run.perform(event, before as ModelSnapshot, after as ModelSnapshot),
    verify: (model) => run.check(model as ModelSnapshot),
  });
}

const { paths: PATHS, shortest: SHORTEST, simple: SIMPLE } = peerModelPaths();

describe('peer connection: every model path, on the real actor', () => {
  it.each(PATHS.map((path) => [path.title, path] as const))('%s', async (_, path) => {
    await drive(path);
  });
});

describe('peer connection: model coverage of the real machine', () => {
  it('reaches every state and every transition of the real machine', async () => {
    const { ratio, missingStates, missingTransitions } = await measureCoverage(peerConnectionMachine, async (inspect) => {
      for (const path of PATHS) await drive(path, inspect);
    });
    console.log(`peer model: ${PATHS.length} paths (${SHORTEST} shortest + ${SIMPLE} simple, prefixes dropped); states ${ratio.states}, transitions ${ratio.transitions}`);
    expect(missingStates, 'states no path reaches').toEqual([]);
    expect(missingTransitions, 'transitions no path takes').toEqual([]);
  });
});
