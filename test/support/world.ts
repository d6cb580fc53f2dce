import { createActor, fromCallback, SimulatedClock, type Actor, type InspectionEvent } from 'xstate';
import { DataPlane } from '../../src/data/dataPlane.js';
import { generateIdentity, nodeMachine, peerConnectionMachine, signalingMachine } from '../../src/index.js';
import { silentLogger } from '../../src/log.js';
import type { CarrierCommand, SocketCommand, SocketEvent, SocketInput } from '../../src/services/socketClient.js';
import type { TransportCommand, TransportEvent, TransportInput } from '../../src/services/webrtcTransport.js';
import { Envelopes, type SignalData } from '../../src/wire/envelope.js';
import { PEER_TIMEOUTS } from './fakes.js';

type Send<E> = (event: E) => void;

interface FakeTransport {
  owner: string;
  remoteId: string;
  sendBack: Send<TransportEvent>;
  open: boolean;
  stopped: boolean;
}

/**
 * Node supervisors wired to each other in memory: fake sockets relay signals between registered
 * nodes and fake transports negotiate on their own, so whole flows run deterministically.
 * Every delivery goes through one queue that `flush()` drains, like a network would.
 */
export class World {
  readonly clock = new SimulatedClock();
  readonly queue: (() => void)[] = [];
  readonly sockets = new Map<string, { sendBack: Send<SocketEvent>; stopped: boolean }[]>();
  readonly transports: FakeTransport[] = [];
  readonly nodes = new Map<string, Actor<typeof nodeMachine>>();
  /** Each sender's next sequence number per session, as its envelopes would carry them. */
  readonly #seqs = new Map<string, number>();
  /** Nodes whose socket does not connect (the server is "down" for them). */
  readonly unreachable = new Set<string>();

  /** `inspect` sees every actor of every node, as a node's own inspection does. */
  constructor(readonly inspect?: (event: InspectionEvent) => void) {}

  readonly socketLogic = fromCallback<CarrierCommand, SocketInput, SocketEvent>(({ input, sendBack, receive }) => {
    const id = input.identity.nodeId;
    const entry = { sendBack, stopped: false };
    this.sockets.set(id, [...(this.sockets.get(id) ?? []), entry]);
    const reachable = () => !entry.stopped && !this.unreachable.has(id);
    this.later(() => reachable() && sendBack({ type: 'SOCKET.CONNECTED' }));
    this.later(() => reachable() && sendBack({ type: 'SOCKET.REGISTERED', nodeId: id }));
    // The fake carries no keys: there is nothing to prepare.
    receive((command) => command.type === 'SEND' && this.later(() => this.relay(id, command)));
    return () => {
      entry.stopped = true;
    };
  });

  readonly transportLogic = fromCallback<TransportCommand, TransportInput & { owner?: string }, TransportEvent>(
    ({ input, sendBack, receive, self }) => {
      const owner = (self._parent as unknown as { getSnapshot(): { context: { localId: string } } }).getSnapshot().context.localId;
      const t: FakeTransport = { owner, remoteId: input.remoteId, sendBack, open: false, stopped: false };
      this.transports.push(t);
      const emit = (event: TransportEvent) => this.later(() => t.stopped || sendBack(event));
      if (input.initiator) emit({ type: 'TRANSPORT.SIGNAL', data: { type: 'offer', sdp: `offer from ${owner}` } });
      receive((command) => {
        if (command.type === 'VERIFY') return emit({ type: 'TRANSPORT.VERIFIED', route: { route: 'host' } });
        if (command.type === 'RESTART') return; // the in-memory path never stalls
        if (command.type === 'END') {
          // The far side acknowledges our end at once, then waits for us to close.
          const far = this.#far(t);
          if (far) this.later(() => far.stopped || far.sendBack({ type: 'TRANSPORT.REMOTE_END' }));
          return emit({ type: 'TRANSPORT.ENDED', acknowledged: true, unsent: 0 });
        }
        if (command.data.type === 'offer') {
          emit({ type: 'TRANSPORT.SIGNAL', data: { type: 'answer', sdp: `answer from ${owner}` } });
          t.open = true;
          emit({ type: 'TRANSPORT.OPEN' });
        } else if (command.data.type === 'answer') {
          t.open = true;
          emit({ type: 'TRANSPORT.OPEN' });
        }
      });
      return () => {
        t.stopped = true;
        const far = this.#far(t);
        if (t.open && far) this.later(() => far.stopped || far.sendBack({ type: 'TRANSPORT.CLOSED' }));
      };
    },
  );

  /** The open transport at the other end of `t`, if any. */
  #far(t: FakeTransport): FakeTransport | undefined {
    return this.transports.find((o) => !o.stopped && o.open && o.owner === t.remoteId && o.remoteId === t.owner);
  }

  /** Two nodes, `a` connected to `b`, with everything they do seen by `inspect`. */
  static connectedPair(inspect?: (event: InspectionEvent) => void): { world: World; a: string; b: string } {
    const world = new World(inspect);
    const a = world.node();
    const b = world.node();
    world.flush();
    world.actor(a).send({ type: 'CONNECT', peerId: b });
    world.flush();
    return { world, a, b };
  }

  later(task: () => void): void {
    this.queue.push(task);
  }

  /** Delivers queued work until the world is quiet (bounded, so a livelock fails the test). */
  flush(): void {
    for (let i = 0; this.queue.length > 0; i++) {
      if (i > 10_000) throw new Error('world did not settle');
      this.queue.shift()!();
    }
  }

  socketOf(id: string) {
    return this.sockets.get(id)?.filter((s) => !s.stopped).at(-1);
  }

  relay(from: string, command: SocketCommand): void {
    const target = this.socketOf(command.to);
    const sender = this.socketOf(from);
    if (!target) {
      sender?.sendBack({ type: 'SOCKET.SIGNAL_FAILED', to: command.to, session: command.session, error: { code: 'ERR_UNKNOWN_PEER', message: 'not registered' } });
      return;
    }
    const data: SignalData = command.data;
    const stream = `${from}/${command.session}`;
    const seq = this.#seqs.get(stream) ?? 0;
    this.#seqs.set(stream, seq + 1);
    target.sendBack({ type: 'SOCKET.SIGNAL', signal: { from, session: command.session, seq, kind: data.type, data, sealed: true } });
  }

  /** Starts a node supervisor; returns its id. */
  node(options: { maxPeers?: number; maxNegotiating?: number } = {}): string {
    const identity = generateIdentity();
    const machine = nodeMachine.provide({
      actors: {
        signaling: signalingMachine.provide({ actors: { socket: this.socketLogic } }),
        peer: peerConnectionMachine.provide({ actors: { transport: this.transportLogic } }),
      },
    });
    const actor = createActor(machine, {
      clock: this.clock,
      inspect: this.inspect,
      input: {
        localId: identity.nodeId,
        maxPeers: options.maxPeers ?? 10,
        maxNegotiating: options.maxNegotiating ?? 20,
        signaling: {
          urls: ['http://fake'],
          identity,
          envelopes: new Envelopes(identity),
          logger: silentLogger,
          timeouts: { connect: 1000, register: 1000 },
          backoff: { initialMs: 100, maxMs: 1000, jitter: 0 },
          initialAttempts: 3,
          queueLimit: 100,
        },
        peerTimeouts: PEER_TIMEOUTS,
        transport: { iceServers: [], dataPlane: new DataPlane(), link: {}, logger: silentLogger },
      },
    });
    actor.subscribe({ error: (err) => { throw err; } });
    actor.start();
    actor.send({ type: 'START' });
    this.nodes.set(identity.nodeId, actor);
    return identity.nodeId;
  }

  actor(id: string): Actor<typeof nodeMachine> {
    return this.nodes.get(id)!;
  }

  /** Peer actor states of node `id`, by remote id. */
  peers(id: string): Record<string, unknown> {
    const { peers } = this.actor(id).getSnapshot().context;
    return Object.fromEntries(Object.entries(peers).map(([remote, ref]) => [remote, ref.getSnapshot().value]));
  }

  peerContext(id: string, remote: string) {
    return this.actor(id).getSnapshot().context.peers[remote]?.getSnapshot().context;
  }

  transportsOf(owner: string, remoteId?: string): FakeTransport[] {
    return this.transports.filter((t) => t.owner === owner && (remoteId === undefined || t.remoteId === remoteId));
  }
}
