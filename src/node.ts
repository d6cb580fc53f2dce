import { BehaviorSubject, Observable, Subject, filter } from 'rxjs';
import { createActor, type InspectionEvent, type SnapshotFrom, type StateValue } from 'xstate';
import { P2PError, type ErrorCode } from './errors.js';
import { InspectionLog } from './inspector/inspectionLog.js';
import { stateName } from './inspector/stateValue.js';
import { silentLogger, type Logger } from './log.js';
import { nodeMachine } from './machines/node.machine.js';
import { DEFAULT_TIMEOUTS, resolveIdentity, signalingUrls, validate, type InspectOptions, type NodeOptions } from './options.js';
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
  /**
   * The peer actor's state: offering, answering, connecting, verifying or connected; or `queued`, an
   * outgoing attempt waiting for one of `maxNegotiations` slots.
   */
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
  busy: 'ERR_PEER_BUSY',
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
  /** Why an outgoing attempt ended while still queued, before it had an actor. */
  error?: P2PError;
}

const PEERS_REFRESH_MS = 250;
/** The state `peers$` shows for an outgoing attempt waiting for a negotiation slot. */
const QUEUED = 'queued';

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
  /** Every connection that opens, and every started attempt or connection that ends, with its reason. */
  readonly peerEvents$: Observable<PeerEvent>;

  readonly #log: Logger;
  readonly #maxPeers: number;
  readonly #maxNegotiations: number;
  /** Outgoing attempts waiting for a negotiation slot, oldest first; each is also in #peers, as `queued`. */
  readonly #queued = new Set<string>();
  /** Outgoing attempts that left the queue, each holding a slot until it connects or ends. */
  readonly #negotiating = new Set<string>();
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
    this.#maxNegotiations = options.maxNegotiations ?? 10;
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
        // Counts every negotiating peer, and our own attempts fill at most half of it: offers from other
        // nodes always find maxNegotiations places, and at most 3 × maxNegotiations negotiations (~200
        // file descriptors each) run at once.
        maxNegotiating: 2 * this.#maxNegotiations,
        signaling: {
          urls: signalingUrls(options.signalingUrl),
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
   * Connects to `nodeId` (or joins an attempt already under way or queued); resolves once the data
   * channel is open and the peer's DTLS certificate matched the one it signed for. At most
   * `maxNegotiations` attempts negotiate at once; later ones wait in call order, and their timeouts
   * start when they do. Aborting `options.signal` abandons the attempt.
   */
  async connectToNode(nodeId: string, options: ConnectOptions = {}): Promise<void> {
    this.#assertRunning();
    if (!isNodeId(nodeId)) throw new P2PError('ERR_INVALID_NODE_ID', `not a node id: ${JSON.stringify(nodeId).slice(0, 80)}`);
    if (nodeId === this.nodeId) throw new P2PError('ERR_SELF_CONNECT', 'a node cannot connect to itself');
    const known = this.#peers.get(nodeId);
    if (known?.state === 'connected') return;
    // No signal can leave any more: fail now rather than at the offer timeout.
    if (this.#actor.getSnapshot().matches({ running: 'signalingFailed' })) throw this.#signalingError();
    // Queued attempts are in #peers too, so the cap still holds once they start.
    if (!known && this.#peers.size >= this.#maxPeers) throw this.#tooManyPeers(this.#peers.size);
    options.signal?.throwIfAborted();
    const outcome = this.#nextOutcome(nodeId, options.signal);
    if (!known) {
      this.#queued.add(nodeId);
      this.#peerChanged({ id: nodeId, state: QUEUED, since: Date.now() });
      this.#startQueuedSoon();
    }
    return outcome;
  }

  #tooManyPeers(count: number): P2PError {
    return new P2PError('ERR_TOO_MANY_PEERS', `already ${count} peers (maxPeers ${this.#maxPeers})`);
  }

  /**
   * Starts queued attempts, oldest first, while fewer than `maxNegotiations` of ours negotiate. In a
   * microtask, so the supervisor is between events and its snapshot settled (peers that just ended gone).
   */
  #startQueuedSoon(): void {
    queueMicrotask(() => {
      for (const nodeId of this.#queued) {
        if (this.#stopped || this.#negotiating.size >= this.#maxNegotiations) return;
        this.#queued.delete(nodeId);
        this.#begin(nodeId);
      }
    });
  }

  /** Starts a queued attempt, unless the supervisor can no longer take it. */
  #begin(nodeId: string): void {
    const snapshot = this.#actor.getSnapshot();
    const peers = Object.keys(snapshot.context.peers).length;
    let error: P2PError | undefined;
    if (snapshot.matches({ running: 'signalingFailed' })) error = this.#signalingError();
    // Offers accepted while it waited may have taken the last peer slots: the CONNECT would be ignored.
    else if (peers >= this.#maxPeers) error = this.#tooManyPeers(peers);
    if (error) return this.#peerChanged({ id: nodeId, state: QUEUED, since: Date.now(), error });
    this.#negotiating.add(nodeId);
    this.#actor.send({ type: 'CONNECT', peerId: nodeId });
  }

  /** Ends the attempt or connection to `nodeId`: a queued attempt leaves the queue, an actor is closed. */
  #close(nodeId: string): void {
    if (this.#queued.has(nodeId)) {
      const error = new P2PError('ERR_PEER_CLOSED', `connection to ${nodeId.slice(0, 12)}… closed before it started`);
      this.#peerChanged({ id: nodeId, state: QUEUED, since: Date.now(), error });
    } else {
      this.#actor.send({ type: 'DISCONNECT', peerId: nodeId });
    }
  }

  #nextOutcome(nodeId: string, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        done();
        this.#close(nodeId);
        reject(signal!.reason);
      };
      const sub = this.#peerStatus.pipe(filter((s) => s.id === nodeId)).subscribe({
        next: (status) => {
          if (status.error) reject(status.error);
          else if (status.output) reject(closeError(status.output));
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
    this.#close(nodeId);
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
    const { id } = status;
    const wasConnected = this.#peers.get(id)?.state === 'connected';
    const ended = status.output !== undefined || status.error !== undefined;
    if (ended) this.#peers.delete(id);
    else this.#peers.set(id, status);
    // An attempt also leaves the queue when the peer's own offer gave it an actor first: it joins that one.
    if (ended || status.state !== QUEUED) this.#queued.delete(id);
    this.#publishPeers();
    this.#peerStatus.next(status);
    if (status.output) {
      const { reason, detail } = status.output;
      this.#peerEvents.next({ type: 'closed', id, reason, detail, wasConnected });
    } else if (status.state === 'connected') {
      this.#peerEvents.next({ type: 'connected', id, route: status.route });
    }
    if ((ended || status.state === 'connected') && this.#negotiating.delete(id)) this.#startQueuedSoon();
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
