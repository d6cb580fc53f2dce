/** The public node: one supervisor actor, its peers' bookkeeping and the data plane behind one API. */
import { Observable, Subject, filter, throwError } from 'rxjs';
import { createActor, type InspectionEvent } from 'xstate';
import { DataPlane, type DataMessage } from '../data/dataPlane.js';
import { P2PError } from '../errors.js';
import { FileTransfers } from '../files/fileTransfers.js';
import type { BlobLike } from '../files/source.js';
import type { IncomingFile, SendFileOptions, SentFile, TransferProgress } from '../files/types.js';
import type { PeerLink } from '../data/link.js';
import { InspectionLog } from '../inspector/inspectionLog.js';
import { silentLogger, type Logger } from '../log.js';
import { nodeMachine } from '../machines/node.machine.js';
import { ESTABLISHED_STATES } from '../machines/peerConnection.machine.js';
import { collectClosedConnections } from '../services/nativeCollector.js';
import { warnOfSmallUdpBuffers } from '../services/udpBuffers.js';
import { Overlay } from '../services/overlay.js';
import { Envelopes } from '../wire/envelope.js';
import { assertCloseOptions, assertConnectOptions, assertFileInput, assertMessage, assertNodeId, assertSendOptions } from './arguments.js';
import { startInspectors, type Inspectors } from './inspection.js';
import { alive } from './alive.js';
import { flushError, signalingError } from './errors.js';
import { DhtApi, type Discovery, type GotRecord, type PutRecord } from './dhtApi.js';
import { dhtInfo, type DhtInfo } from './dhtInfo.js';
import { dhtSettings, resolveIdentity, validate, type NodeOptions } from './options.js';
import { PeerBook } from './peerBook.js';
import { RECONNECTING, Reconnector } from './reconnector.js';
import { supervisorInput } from './supervisorInput.js';
import { TransitionTracker } from './transitions.js';
import type { CloseOptions, ConnectOptions, NodeSnapshot, PeerEvent, PeerInfo, SendOptions, Transition } from './types.js';

/**
 * A running node. Create it with {@link createNode}.
 */
export class P2PNode {
  readonly nodeId: string;
  /**
   * Messages from every peer, strings as strings and binary as Uint8Array. What arrives while nobody
   * subscribes is kept (options.unread, default 1000 messages and 16 MiB) and replayed to the next
   * subscriber; beyond that it is dropped and counted in `PeerInfo.dropped`.
   */
  readonly data$: Observable<DataMessage>;
  /** Live peers (negotiating or connected); replays the current list to new subscribers. */
  readonly peers$: Observable<PeerInfo[]>;
  /** Every state change of the supervisor, the signaling actor and each peer actor. */
  readonly transitions$: Observable<Transition>;
  /** The supervisor's snapshot; replays the current one to new subscribers. */
  readonly state$: Observable<NodeSnapshot>;
  /** Every connection that opens, and every started attempt or connection that ends, with its reason. */
  readonly peerEvents$: Observable<PeerEvent>;
  /** Nodes found under the topics this node joined, each once per topic (errors with ERR_DHT_DISABLED without `dht`). */
  readonly discover$: Observable<Discovery>;
  /**
   * Files peers offer, to `accept()` or `decline()`; with `files.dir` set they are accepted there
   * without asking, and while nobody subscribes (and no `files.dir`) they are declined.
   */
  readonly files$: Observable<IncomingFile>;
  /** Every step of every file transfer, sent or received: offered, active (bytes so far), done, failed. */
  readonly transfers$: Observable<TransferProgress>;
  readonly #files: FileTransfers;

  readonly #log: Logger;
  readonly #maxPeers: number;
  readonly #dataPlane: DataPlane;
  readonly #book: PeerBook;
  readonly #reconnector: Reconnector | undefined;
  readonly #actor;
  readonly #tracker = new TransitionTracker();
  readonly #transitions = new Subject<Transition>();
  readonly #inspectOptions;
  /** Kept from construction on, so the inspector page shows the whole history. */
  readonly #inspection: InspectionLog | undefined;
  #inspectors: Inspectors = {};
  readonly #dht: DhtApi | undefined;
  readonly #overlay: Overlay | undefined;
  /** Peers the application connected to, sent to or heard from: the DHT never closes their links. */
  readonly #appPeers = new Set<string>();
  /** Routes through the overlay for queued connections, found while the server was away. */
  readonly #routes = new Map<string, string[]>();
  #started: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;

  constructor(options: NodeOptions) {
    validate(options);
    const identity = resolveIdentity(options);
    this.nodeId = identity.nodeId;
    this.#maxPeers = options.maxPeers ?? 200;
    const maxNegotiations = options.maxNegotiations ?? 10;
    this.#log = (options.logger ?? silentLogger).child({ node: identity.nodeId.slice(0, 8) });
    this.#inspectOptions = options.inspect ?? {};
    this.#dataPlane = new DataPlane({
      unread: options.unread,
      onDeliver: (from) => {
        this.#useLink(from);
        this.#book.bytesChanged();
      },
    });
    const envelopes = new Envelopes(identity, { e2e: options.encryption !== 'off', requireEncryption: options.encryption === 'required' });
    const settings = dhtSettings(options);
    if (settings) {
      const { k, maxConnections, alpha, replication } = settings;
      const release = (peerId: string): void => void (this.#appPeers.has(peerId) || this.#book.close(peerId, false));
      const inUse = (peerId: string): boolean => this.#appPeers.has(peerId);
      this.#overlay = new Overlay({ nodeId: identity.nodeId, dataPlane: this.#dataPlane, envelopes, logger: this.#log, options: { k, maxConnections, alpha, replication }, release, inUse });
      this.#dht = new DhtApi(identity, this.#overlay, settings);
    }
    this.discover$ = this.#dht?.discover$ ?? throwError(() => dhtDisabled());
    this.#inspection = this.#inspectOptions.port === undefined ? undefined : new InspectionLog();
    this.#actor = createActor(nodeMachine, {
      id: 'node',
      inspect: (event) => this.#inspect(event),
      input: supervisorInput(options, {
        identity,
        dataPlane: this.#dataPlane,
        logger: this.#log,
        maxPeers: this.#maxPeers,
        maxNegotiations,
        envelopes,
        dht: this.#overlay && settings ? { overlay: this.#overlay, settings } : undefined,
      }),
    });
    this.#actor.subscribe({ error: (err) => this.#log.error({ err }, 'node supervisor failed') });
    this.#book = new PeerBook({
      maxNegotiations,
      dataPlane: this.#dataPlane,
      negotiator: {
        refusal: () => this.#refusal(),
        connect: (peerId) => {
          const via = this.#routes.get(peerId);
          this.#routes.delete(peerId);
          this.#actor.send({ type: 'CONNECT', peerId, via });
        },
        disconnect: (peerId, force) => this.#actor.send({ type: 'DISCONNECT', peerId, force }),
      },
    });

    const { reconnect } = options;
    this.#reconnector = reconnect ? new Reconnector(this.#book, reconnect === true ? {} : reconnect) : undefined;
    this.data$ = this.#dataPlane.data$;
    this.peers$ = this.#book.peers$;
    this.transitions$ = this.#transitions.asObservable();
    this.peerEvents$ = this.#book.peerEvents$;
    this.#files = new FileTransfers({ send: (peer, bytes, receipt) => this.#sendFileMessage(peer, bytes, receipt) }, options.files ?? {}, this.#log);
    this.#dataPlane.takeFiles((peer, bytes) => this.#files.receive(peer, bytes));
    this.peerEvents$.subscribe((event) => event.type === 'closed' && this.#files.peerClosed(event.id));
    this.files$ = this.#files.files$;
    this.transfers$ = this.#files.transfers$;
    this.state$ = new Observable<NodeSnapshot>((subscriber) => {
      subscriber.next(this.#actor.getSnapshot());
      const sub = this.#actor.subscribe({ next: (s) => subscriber.next(s), complete: () => subscriber.complete() });
      return () => sub.unsubscribe();
    });
  }

  /**
   * Connects to the signaling server; resolves once registered under {@link nodeId} and, with `dht`,
   * once the DHT has joined through the peers the server introduced (or 10 s have passed).
   */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    if (this.#stopped) throw new P2PError('ERR_STOPPED', 'node was stopped');
    const outcome = new Promise<void>((resolve, reject) => {
      const sub = this.#transitions.pipe(filter((t) => t.actor === 'node')).subscribe((t) => {
        if (t.to === 'running.online') resolve();
        else if (t.to === 'running.signalingFailed') reject(signalingError(this.#actor.getSnapshot().context.signalingError));
        else if (t.to === 'stopped') reject(new P2PError('ERR_STOPPED', 'node stopped while starting'));
        else return;
        sub.unsubscribe();
      });
    });
    // Subscribed before START: the first node of a network joins within the registration's own turn.
    const joined = this.#overlay ? this.#dhtJoined() : undefined;
    warnOfSmallUdpBuffers(this.#log);
    try {
      this.#inspectors = await startInspectors(this.#inspectOptions, this.#inspection, this.#log);
      this.#actor.start();
      this.#actor.send({ type: 'START' });
      await outcome;
      await joined;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /**
   * Resolves once the DHT has joined (looked itself up through the peers the server introduced), or
   * after `DHT_JOIN_WAIT_MS`: the DHT keeps trying on its own, and the node works without it meanwhile.
   */
  #dhtJoined(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        sub.unsubscribe();
        this.#log.warn({ waitedMs: DHT_JOIN_WAIT_MS }, 'the DHT has not joined yet; it keeps trying');
        resolve();
      }, DHT_JOIN_WAIT_MS);
      const sub = this.#transitions.pipe(filter((t) => t.actor === 'dht' && t.from === 'joining')).subscribe(() => {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve();
      });
    });
  }

  /** The local inspector page (`inspect.port`), once {@link start} has begun. */
  get inspectorUrl(): string | undefined {
    return this.#inspectors.page?.url;
  }

  /** The Stately Inspector session (`inspect.stately`), once {@link start} has begun. */
  get statelyUrl(): string | undefined {
    return this.#inspectors.stately?.url;
  }

  #assertRunning(): void {
    if (this.#stopped) throw new P2PError('ERR_STOPPED', 'node was stopped');
    if (!this.#started) throw new P2PError('ERR_NOT_STARTED', 'call start() first');
  }

  /**
   * Connects to `nodeId` (or joins an attempt already under way or queued); resolves once the data
   * channel is open and the peer's DTLS certificate matched the one it signed for. At most
   * `maxNegotiations` attempts negotiate at once; later ones wait in call order, and their timeouts
   * start when they do. Aborting `options.signal` abandons the attempt. On a connection that has
   * missed a heartbeat, or is recovering (an ICE restart), it waits until the peer is heard again and
   * connected, or lost (then it connects anew). With the signaling server away and a DHT, the
   * signals go through the overlay, routed toward the node's id, and a timed-out attempt is tried
   * once more along the route a lookup of the node finds.
   */
  connectToNode(nodeId: string, options?: ConnectOptions): Promise<void> {
    return this.#connect(nodeId, options, false);
  }

  async #connect(nodeId: string, options: ConnectOptions | undefined, retried: boolean): Promise<void> {
    this.#assertRunning();
    assertNodeId(nodeId);
    assertConnectOptions(options);
    if (nodeId === this.nodeId) throw new P2PError('ERR_SELF_CONNECT', 'a node cannot connect to itself');
    this.#useLink(nodeId);
    const state = this.#book.state(nodeId);
    if (state === RECONNECTING) this.#reconnector?.hurry(nodeId);
    if (state !== undefined && ESTABLISHED_STATES.has(state)) {
      return (await alive(this.#book, this.#dataPlane, nodeId)) ? undefined : this.#connect(nodeId, options, retried);
    }
    // No signal can leave any more (no server, no overlay): fail now rather than at the offer timeout.
    if (!this.#overlay && this.#actor.getSnapshot().matches({ running: 'signalingFailed' })) throw signalingError(this.#actor.getSnapshot().context.signalingError);
    // Queued attempts are in the book too, so the cap still holds once they start.
    if (state === undefined && this.#book.size >= this.#maxPeers) throw this.#tooManyPeers(this.#book.size);
    options?.signal?.throwIfAborted();
    // With the server away, signals go through the overlay, routed toward the node's id hop by hop
    // (a lookup first would find the same greedy route, a round trip later), unless no link of ours
    // is closer to it than we are: then a lookup, whose parallel paths start from our closest links,
    // finds a route.
    const overlaid = state === undefined && this.#overlay !== undefined && !this.#actor.getSnapshot().matches({ running: 'online' });
    if (overlaid && (retried || !this.#overlay!.dht.routesTo(nodeId))) {
      const via = await this.#dht!.routeTo(nodeId);
      if (via) this.#routes.set(nodeId, via);
      // The attempt may have started (or the peer connected) while the lookup ran: take it from there.
      if (this.#book.state(nodeId) !== undefined) return this.#connect(nodeId, options, retried);
    }
    const outcome = this.#book.outcome(nodeId, options?.signal);
    if (state === undefined) this.#book.enqueue(nodeId);
    if (!overlaid || retried) return outcome;
    // The route may lead nowhere (a node on it whose table misses the target's part of the
    // keyspace), past what the overlay's own copies of each signal can route round: once, try
    // again along the route a lookup of the node finds (its parallel paths start from other links).
    return outcome.catch((err: unknown) => {
      if (!(err instanceof P2PError) || err.code !== 'ERR_CONNECT_TIMEOUT' || options?.signal?.aborted) throw err;
      this.#routes.delete(nodeId);
      return this.#connect(nodeId, options, true);
    });
  }

  /** The application uses the link to `peerId`: the DHT keeps it open, and tells the peer it holds it. */
  #useLink(peerId: string): void {
    if (this.#appPeers.has(peerId)) return;
    this.#appPeers.add(peerId);
    this.#overlay?.dht.hold(peerId);
  }

  #tooManyPeers(count: number): P2PError {
    return new P2PError('ERR_TOO_MANY_PEERS', `already ${count} peers (maxPeers ${this.#maxPeers})`);
  }

  /** Why a queued attempt can no longer start, if the supervisor cannot take it. */
  #refusal(): P2PError | undefined {
    const snapshot = this.#actor.getSnapshot();
    if (!this.#overlay && snapshot.matches({ running: 'signalingFailed' })) return signalingError(snapshot.context.signalingError);
    // Offers accepted while it waited may have taken the last peer slots: the CONNECT would be ignored.
    const peers = Object.keys(snapshot.context.peers).length;
    return peers >= this.#maxPeers ? this.#tooManyPeers(peers) : undefined;
  }

  /**
   * Sends to one peer; resolves once the message fits the peer's send budget, or, with
   * `{ delivered: true }`, once the peer's node took it. A peer still negotiating (e.g. the far end
   * of a `connectToNode` that just resolved) is waited for.
   */
  async send(nodeId: string, data: string | Uint8Array, options?: SendOptions): Promise<void> {
    this.#assertRunning();
    assertNodeId(nodeId);
    assertMessage(data);
    assertSendOptions(options);
    const link = await this.#linkTo(nodeId);
    try {
      await link.send(data, { receipt: options?.delivered });
    } finally {
      this.#book.bytesChanged();
    }
  }

  /**
   * Offers a file (a path, or a Blob such as a browser `File`) to a connected peer and streams it
   * once accepted, never more than 8 MiB ahead of what the peer has written; resolves once the peer
   * verified its SHA-256.
   * Rejects with ERR_FILE_DECLINED (declined, too large, bad name, nobody receiving, no answer in
   * `files.answerTimeoutMs`, or a peer that takes no files), ERR_FILE_INTERRUPTED (the connection
   * closed: call it again once reconnected and it resumes from the bytes the peer has),
   * ERR_FILE_CORRUPT or ERR_FILE_UNREADABLE. Progress goes to {@link transfers$}.
   *
   * @example
   * ```ts
   * const sent = await node.sendFile(peerId, './video.mp4');
   * console.log(`${sent.size} bytes, sha256 ${sent.sha256}`);
   * ```
   */
  async sendFile(nodeId: string, file: string | BlobLike, options?: SendFileOptions): Promise<SentFile> {
    this.#assertRunning();
    assertNodeId(nodeId);
    assertFileInput(file);
    await this.#linkTo(nodeId);
    return this.#files.send(nodeId, file, options);
  }

  /** The verified link to `nodeId`, once a negotiation in progress has finished. */
  async #linkTo(nodeId: string): Promise<PeerLink> {
    this.#useLink(nodeId);
    if (!this.#dataPlane.get(nodeId) && this.#book.state(nodeId) !== undefined) await this.#book.outcome(nodeId, undefined);
    const link = this.#dataPlane.get(nodeId);
    if (!link) throw new P2PError('ERR_NOT_CONNECTED', `not connected to ${nodeId.slice(0, 12)}…`);
    return link;
  }

  #sendFileMessage(peer: string, bytes: Uint8Array, receipt = false): Promise<void> {
    const link = this.#dataPlane.get(peer);
    if (!link) return Promise.reject(new P2PError('ERR_PEER_CLOSED', `not connected to ${peer.slice(0, 12)}…`));
    return link.send(bytes, { file: true, receipt });
  }

  /** Sends to every connected peer. */
  async sendData(data: string | Uint8Array): Promise<void> {
    this.#assertRunning();
    assertMessage(data);
    const ids = this.#dataPlane.peerIds();
    if (ids.length === 0) throw new P2PError('ERR_NO_PEERS', 'no connected peer to send to');
    await Promise.all(ids.map((id) => this.send(id, data)));
  }

  /**
   * Closes the connection to `nodeId` (a no-op when there is none); resolves once it is closed. By
   * default it first delivers everything `send()` accepted, and resolves once the peer acknowledged
   * it all; after `timeouts.flush` it closes anyway and rejects with ERR_FLUSH_TIMEOUT, which says
   * how many bytes never left. `{ force: true }` closes at once.
   */
  async disconnect(nodeId: string, options?: CloseOptions): Promise<void> {
    this.#assertRunning();
    assertNodeId(nodeId);
    assertCloseOptions(options);
    this.#reconnector?.cancel(nodeId);
    // The application is done with the peer: a link the DHT opens to it later is the DHT's to shed.
    this.#appPeers.delete(nodeId);
    if (this.#book.state(nodeId) === undefined) return;
    const ended = this.#book.ended(nodeId);
    this.#book.close(nodeId, options?.force ?? false);
    const error = flushError([await ended]);
    if (error) throw error;
  }

  /**
   * Leaves the signaling server and closes every peer; resolves once every socket and connection is
   * released. Connected peers are closed as {@link disconnect} closes them, flushing by default;
   * if any flush timed out, it rejects with ERR_FLUSH_TIMEOUT once everything is released.
   */
  stop(options?: CloseOptions): Promise<void> {
    try {
      assertCloseOptions(options);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#stopped ??= this.#stop(options?.force ?? false);
    return this.#stopped;
  }

  async #stop(force: boolean): Promise<void> {
    this.#reconnector?.stop();
    this.#files.close();
    this.#dht?.stop();
    this.#book.stop();
    const flushed = this.#started && !force ? await this.#book.closeConnected() : [];
    if (this.#started) this.#actor.send({ type: 'STOP' });
    this.#actor.stop();
    await this.#dataPlane.drained();
    await collectClosedConnections();
    await this.#inspectors.page?.close();
    this.#inspectors.stately?.stop();
    this.#dataPlane.complete();
    this.#transitions.complete();
    this.#book.complete();
    const error = flushError(flushed);
    if (error) throw error;
  }

  #inspect(event: InspectionEvent): void {
    this.#inspection?.inspect(event);
    this.#inspectors.stately?.inspect(event);
    const change = this.#tracker.track(event);
    if (!change) return;
    this.#transitions.next(change.transition);
    if (change.peer) this.#book.changed(change.peer);
  }

  /** The peers right now (same data as the latest `peers$` value, with fresh byte counts). */
  peers(): PeerInfo[] {
    return this.#book.list();
  }

  /**
   * Announces this node under `topic` at the DHT nodes closest to sha256(topic), and keeps it
   * announced; nodes found there appear on {@link discover$}. Rejects with ERR_DHT_UNREACHABLE when
   * no DHT node answered.
   */
  join(topic: string): Promise<void> {
    return this.#dhtCall((dht) => dht.join(topic));
  }

  /** Stops announcing under `topic` and watching it (the announcement expires). */
  leave(topic: string): Promise<void> {
    return this.#dhtCall(async (dht) => dht.leave(topic));
  }

  /** The node ids announced under `topic` (fresh, signature-checked), this node's left out. */
  lookup(topic: string): Promise<string[]> {
    return this.#dhtCall((dht) => dht.lookup(topic));
  }

  /** Stores a value of up to 1 KiB, signed, under (this node, `key`); `seq` must rise, `cas` names the seq it replaces. */
  put(record: PutRecord): Promise<void> {
    return this.#dhtCall((dht) => dht.put(record));
  }

  /** What `nodeId` stored under `key` (the highest seq found, signature-checked), or undefined. */
  get(nodeId: string, key: string): Promise<GotRecord | undefined> {
    return this.#dhtCall(async (dht) => {
      assertNodeId(nodeId);
      return dht.get(nodeId, key);
    });
  }

  /** The DHT's state, routing table and counters, or undefined without `dht`. */
  dhtInfo(): DhtInfo | undefined {
    return this.#overlay && dhtInfo(this.#overlay, this.#actor.getSnapshot().context.dhtRef, this.#dht!.topics());
  }

  async #dhtCall<T>(call: (dht: DhtApi) => Promise<T>): Promise<T> {
    this.#assertRunning();
    if (!this.#dht) throw dhtDisabled();
    return call(this.#dht);
  }
}

/** How long `start()` waits for the DHT to join. */
const DHT_JOIN_WAIT_MS = 10_000;

function dhtDisabled(): P2PError {
  return new P2PError('ERR_DHT_DISABLED', 'this node runs no DHT: create it with { dht: true }');
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
