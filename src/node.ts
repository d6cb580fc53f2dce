import { BehaviorSubject, Observable, Subject, filter } from 'rxjs';
import { createActor, type InspectionEvent, type SnapshotFrom, type StateValue } from 'xstate';
import { P2PError, type ErrorCode } from './errors.js';
import { InspectionLog } from './inspector/inspectionLog.js';
import { stateName } from './inspector/stateValue.js';
import { silentLogger, type Logger } from './log.js';
import { nodeMachine } from './machines/node.machine.js';
import { DEFAULT_TIMEOUTS, resolveIdentity, validate, type InspectOptions, type NodeOptions } from './options.js';
import type { CloseReason, PeerOutput } from './machines/peerConnection.machine.js';
import { DataPlane, type DataMessage } from './services/dataPlane.js';
import { Envelopes } from './services/envelope.js';
import { collectClosedConnections } from './services/nativeCollector.js';
import type { RouteInfo } from './services/fingerprint.js';
import { isNodeId } from './services/identity.js';
import type { InspectorServer } from './services/inspectorServer.js';
import type { StatelyInspector } from './services/statelyInspector.js';
import type { LinkOptions } from './services/link.js';

/** A peer as `peers$` reports it. */
export interface PeerInfo {
  id: string;
  /** The peer actor's state: offering, answering, connecting, verifying or connected. */
  state: string;
  /** When it entered that state (ms since the epoch). */
  since: number;
  /** How the data flows once connected: `host`, `srflx`, `prflx` (direct) or `relay` (TURN). */
  route?: RouteInfo['route'];
  localAddress?: string;
  remoteAddress?: string;
  rttMs?: number;
  bytesIn: number;
  bytesOut: number;
}

/** One state change of one actor: the supervisor (`node`), `signaling` or a `peer.<id>`. */
export interface Transition {
  actor: string;
  /** The previous state ('' for an actor's first state). */
  from: string;
  to: string;
  event: string;
  at: number;
}

/** A peer connection that opened, or one that ended (with why). */
export type PeerEvent =
  | { type: 'connected'; id: string; route?: RouteInfo }
  | { type: 'closed'; id: string; reason: CloseReason; detail?: string; wasConnected: boolean };

export interface ConnectOptions {
  signal?: AbortSignal;
}

export type NodeSnapshot = SnapshotFrom<typeof nodeMachine>;

const CLOSE_ERRORS: Record<CloseReason, ErrorCode> = {
  closed: 'ERR_PEER_CLOSED',
  timeout: 'ERR_CONNECT_TIMEOUT',
  'ice-failed': 'ERR_ICE_FAILED',
  rejected: 'ERR_PEER_REJECTED',
  auth: 'ERR_AUTH',
  error: 'ERR_CONNECTION',
};

/** The error a connection attempt that ended with `output` rejects with. */
export function closeError(output: PeerOutput): P2PError {
  const detail = output.detail ? `: ${output.detail}` : '';
  return new P2PError(CLOSE_ERRORS[output.reason], `connection to ${output.remoteId.slice(0, 12)}… ${output.reason}${detail}`);
}

interface PeerStatus {
  id: string;
  state: string;
  since: number;
  route?: RouteInfo;
  output?: PeerOutput;
}

const PEERS_REFRESH_MS = 250;

/**
 * A running node. Create it with {@link createNode}.
 */
export class P2PNode {
  readonly nodeId: string;
  /** Messages from every peer, strings as strings and binary as Uint8Array. */
  readonly data$: Observable<DataMessage>;
  /** Live peers (negotiating or connected); replays the current list to new subscribers. */
  readonly peers$: Observable<PeerInfo[]>;
  /** Every state change of the supervisor, the signaling actor and each peer actor. */
  readonly transitions$: Observable<Transition>;
  /** The supervisor's snapshot; replays the current one to new subscribers. */
  readonly state$: Observable<NodeSnapshot>;
  /** Every connection that opens, and every attempt or connection that ends, with its reason. */
  readonly peerEvents$: Observable<PeerEvent>;

  readonly #log: Logger;
  readonly #maxPeers: number;
  readonly #dataPlane = new DataPlane();
  readonly #actor;
  readonly #transitions = new Subject<Transition>();
  readonly #peerStatus = new Subject<PeerStatus>();
  readonly #peerEvents = new Subject<PeerEvent>();
  readonly #peers = new Map<string, PeerStatus>();
  readonly #peerList = new BehaviorSubject<PeerInfo[]>([]);
  readonly #lastState = new Map<string, string>();
  readonly #inspectOptions: InspectOptions;
  /** Kept from construction on, so the inspector page shows the whole history. */
  readonly #inspection: InspectionLog | undefined;
  #inspector: InspectorServer | undefined;
  #stately: StatelyInspector | undefined;
  #refreshTimer: NodeJS.Timeout | undefined;
  #started: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;

  constructor(options: NodeOptions) {
    validate(options);
    const identity = resolveIdentity(options);
    const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.nodeId = identity.nodeId;
    this.#maxPeers = options.maxPeers ?? 200;
    this.#log = (options.logger ?? silentLogger).child({ node: identity.nodeId.slice(0, 8) });
    const link: LinkOptions = { maxMessageSize: options.maxMessageSize };
    this.#inspectOptions = options.inspect ?? {};
    this.#inspection = this.#inspectOptions.port === undefined ? undefined : new InspectionLog();
    this.#actor = createActor(nodeMachine, {
      id: 'node',
      inspect: (event) => this.#inspect(event),
      input: {
        localId: identity.nodeId,
        maxPeers: this.#maxPeers,
        signaling: {
          url: options.signalingUrl,
          identity,
          envelopes: new Envelopes(identity),
          logger: this.#log,
          timeouts: { connect: timeouts.signalingConnect, register: timeouts.register },
          backoff: { initialMs: 250, maxMs: 30_000, jitter: 0.3, ...options.backoff },
          initialAttempts: options.signalingAttempts ?? 3,
          queueLimit: 1024,
        },
        peerTimeouts: { offer: timeouts.offer, answer: timeouts.answer, ice: timeouts.ice, verify: timeouts.verify },
        transport: {
          iceServers: options.iceServers ?? [],
          candidateFilter: options.candidateFilter,
          dataPlane: this.#dataPlane,
          link,
          logger: this.#log,
        },
      },
    });
    this.#actor.subscribe({ error: (err) => this.#log.error({ err }, 'node supervisor failed') });

    const messages = this.#dataPlane.messages;
    this.data$ = messages.asObservable();
    messages.subscribe(() => this.#bytesChanged());
    this.peers$ = this.#peerList.asObservable();
    this.transitions$ = this.#transitions.asObservable();
    this.peerEvents$ = this.#peerEvents.asObservable();
    this.state$ = new Observable<NodeSnapshot>((subscriber) => {
      subscriber.next(this.#actor.getSnapshot());
      const sub = this.#actor.subscribe({ next: (s) => subscriber.next(s), complete: () => subscriber.complete() });
      return () => sub.unsubscribe();
    });
  }

  /** Connects to the signaling server; resolves once registered under {@link nodeId}. */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    if (this.#stopped) throw new P2PError('ERR_STOPPED', 'node was stopped');
    const outcome = new Promise<void>((resolve, reject) => {
      const sub = this.#transitions.pipe(filter((t) => t.actor === 'node')).subscribe((t) => {
        if (t.to === 'running.online') resolve();
        else if (t.to === 'running.signalingFailed') reject(this.#signalingError());
        else if (t.to === 'stopped') reject(new P2PError('ERR_STOPPED', 'node stopped while starting'));
        else return;
        sub.unsubscribe();
      });
    });
    try {
      await this.#startInspection();
      this.#actor.start();
      this.#actor.send({ type: 'START' });
      await outcome;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async #startInspection(): Promise<void> {
    const { port, stately } = this.#inspectOptions;
    if (this.#inspection && port !== undefined) {
      // Loaded only when asked for: laying out the charts pulls in dagre.
      const [{ startInspectorServer }, { inspectorCharts }] = await Promise.all([
        import('./services/inspectorServer.js'),
        import('./inspector/charts.js'),
      ]);
      this.#inspector = await startInspectorServer({ port, log: this.#inspection, charts: inspectorCharts() });
      this.#log.info({ url: this.#inspector.url }, 'inspector listening');
    }
    if (stately) {
      // Loaded only when asked for: it brings a WebSocket client and the Stately serializers.
      const { startStatelyInspector } = await import('./services/statelyInspector.js');
      this.#stately = startStatelyInspector(this.#log);
    }
  }

  /** The local inspector page (`inspect.port`), once {@link start} has begun. */
  get inspectorUrl(): string | undefined {
    return this.#inspector?.url;
  }

  /** The Stately Inspector session (`inspect.stately`), once {@link start} has begun. */
  get statelyUrl(): string | undefined {
    return this.#stately?.url;
  }

  #signalingError(): P2PError {
    const error = this.#actor.getSnapshot().context.signalingError;
    if (!error || error.code === 'ERR_SIGNALING_UNREACHABLE') {
      return new P2PError('ERR_SIGNALING_UNREACHABLE', error?.message ?? 'signaling failed');
    }
    return new P2PError('ERR_SIGNALING_REJECTED', `signaling server refused this node (${error.code}): ${error.message}`);
  }

  #assertRunning(): void {
    if (this.#stopped) throw new P2PError('ERR_STOPPED', 'node was stopped');
    if (!this.#started) throw new P2PError('ERR_NOT_STARTED', 'call start() first');
  }

  /**
   * Connects to `nodeId` (or joins an attempt already under way); resolves once the data channel is
   * open and the peer's DTLS certificate matched the one it signed for.
   */
  async connectToNode(nodeId: string, options: ConnectOptions = {}): Promise<void> {
    this.#assertRunning();
    if (!isNodeId(nodeId)) throw new P2PError('ERR_INVALID_NODE_ID', `not a node id: ${JSON.stringify(nodeId).slice(0, 80)}`);
    if (nodeId === this.nodeId) throw new P2PError('ERR_SELF_CONNECT', 'a node cannot connect to itself');
    const known = this.#peers.get(nodeId);
    if (known?.state === 'connected') return;
    // No signal can leave any more: fail now rather than at the offer timeout.
    if (this.#actor.getSnapshot().matches({ running: 'signalingFailed' })) throw this.#signalingError();
    if (!known && this.#peers.size >= this.#maxPeers) {
      throw new P2PError('ERR_TOO_MANY_PEERS', `already ${this.#peers.size} peers (maxPeers ${this.#maxPeers})`);
    }
    options.signal?.throwIfAborted();
    const outcome = this.#nextOutcome(nodeId, options.signal);
    this.#actor.send({ type: 'CONNECT', peerId: nodeId });
    return outcome;
  }

  #nextOutcome(nodeId: string, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        done();
        this.#actor.send({ type: 'DISCONNECT', peerId: nodeId });
        reject(signal!.reason);
      };
      const sub = this.#peerStatus.pipe(filter((s) => s.id === nodeId)).subscribe({
        next: (status) => {
          if (status.output) reject(closeError(status.output));
          else if (status.state === 'connected') resolve();
          else return;
          done();
        },
        // The node stopped: its peer actors were stopped without reaching a final state.
        complete: () => reject(new P2PError('ERR_STOPPED', 'node stopped before the connection settled')),
      });
      const done = (): void => {
        sub.unsubscribe();
        signal?.removeEventListener('abort', onAbort);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Sends to one peer; resolves once the whole message is handed to its channel. A peer still
   * negotiating (e.g. the far end of a `connectToNode` that just resolved) is waited for.
   */
  async send(nodeId: string, data: string | Uint8Array): Promise<void> {
    this.#assertRunning();
    if (!this.#dataPlane.get(nodeId) && this.#peers.has(nodeId)) await this.#nextOutcome(nodeId, undefined);
    const link = this.#dataPlane.get(nodeId);
    if (!link) throw new P2PError('ERR_NOT_CONNECTED', `not connected to ${String(nodeId).slice(0, 12)}`);
    try {
      await link.send(data);
    } finally {
      this.#bytesChanged();
    }
  }

  /** Sends to every connected peer. */
  async sendData(data: string | Uint8Array): Promise<void> {
    this.#assertRunning();
    const ids = this.#dataPlane.peerIds();
    if (ids.length === 0) throw new P2PError('ERR_NO_PEERS', 'no connected peer to send to');
    await Promise.all(ids.map((id) => this.send(id, data)));
  }

  /** Closes the connection to `nodeId` (a no-op when there is none); resolves once it is closed. */
  async disconnect(nodeId: string): Promise<void> {
    this.#assertRunning();
    if (!this.#peers.has(nodeId)) return;
    const closed = this.#nextOutcome(nodeId, undefined).catch(() => {});
    this.#actor.send({ type: 'DISCONNECT', peerId: nodeId });
    await closed;
  }

  /** Leaves the signaling server and closes every peer; resolves once every socket and connection is released. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    if (this.#started) this.#actor.send({ type: 'STOP' });
    this.#actor.stop();
    await this.#dataPlane.drained();
    await collectClosedConnections();
    await this.#inspector?.close();
    this.#stately?.stop();
    clearTimeout(this.#refreshTimer);
    this.#dataPlane.messages.complete();
    this.#transitions.complete();
    this.#peerStatus.complete();
    this.#peerEvents.complete();
    this.#peerList.next([]);
    this.#peerList.complete();
  }

  #inspect(event: InspectionEvent): void {
    this.#inspection?.inspect(event);
    this.#stately?.inspect(event);
    if (event.type !== '@xstate.snapshot') return;
    const snapshot = event.snapshot as { value?: StateValue; status: string; output?: unknown; context?: { route?: RouteInfo } };
    if (!('value' in snapshot)) return; // callback actors (socket, transport) have no states
    const ref = event.actorRef as unknown as { id: string; sessionId: string };
    const actor = ref.id;
    const to = stateName(snapshot.value!);
    const key = ref.sessionId;
    const from = this.#lastState.get(key);
    if (from === to) return;
    if (snapshot.status === 'active') this.#lastState.set(key, to);
    else this.#lastState.delete(key);
    const at = Date.now();
    this.#transitions.next({ actor, from: from ?? '', to, event: event.event.type, at });
    if (actor.startsWith('peer.')) {
      const id = actor.slice('peer.'.length);
      const output = snapshot.status === 'done' ? (snapshot.output as PeerOutput) : undefined;
      this.#peerChanged({ id, state: to, since: at, route: snapshot.context?.route, output });
    }
  }

  #peerChanged(status: PeerStatus): void {
    const wasConnected = this.#peers.get(status.id)?.state === 'connected';
    if (status.output) this.#peers.delete(status.id);
    else this.#peers.set(status.id, status);
    this.#publishPeers();
    this.#peerStatus.next(status);
    if (status.output) {
      const { reason, detail } = status.output;
      this.#peerEvents.next({ type: 'closed', id: status.id, reason, detail, wasConnected });
    } else if (status.state === 'connected') {
      this.#peerEvents.next({ type: 'connected', id: status.id, route: status.route });
    }
  }

  #publishPeers(): void {
    this.#peerList.next(
      [...this.#peers.values()].map(({ id, state, since, route }) => {
        const link = this.#dataPlane.get(id);
        return {
          id,
          state,
          since,
          route: route?.route,
          localAddress: route?.local,
          remoteAddress: route?.remote,
          rttMs: route?.rttMs,
          bytesIn: link?.bytesIn ?? 0,
          bytesOut: link?.bytesOut ?? 0,
        };
      }),
    );
  }

  /** Byte counters change with every message; publish them at most every 250 ms. */
  #bytesChanged(): void {
    if (this.#refreshTimer || this.#stopped) return;
    this.#refreshTimer = setTimeout(() => {
      this.#refreshTimer = undefined;
      this.#publishPeers();
    }, PEERS_REFRESH_MS);
    this.#refreshTimer.unref();
  }

  /** The peers right now (same data as the latest `peers$` value, with fresh byte counts). */
  peers(): PeerInfo[] {
    this.#publishPeers();
    return this.#peerList.getValue();
  }
}

/**
 * Creates a node. Nothing happens on the network until {@link P2PNode.start}.
 *
 * @example
 * ```ts
 * const node = createNode({ signalingUrl: 'http://127.0.0.1:8080' });
 * await node.start();
 * node.data$.subscribe(({ from, data }) => console.log(from, data));
 * await node.connectToNode(otherId);
 * await node.send(otherId, 'hello');
 * await node.stop();
 * ```
 */
export function createNode(options: NodeOptions): P2PNode {
  return new P2PNode(options);
}
