/**
 * The signaling protocol on one server: each connection's challenge, registration, rate budgets and
 * relayed signals, and the node id → socket registry (cluster-wide through Redis when clustered).
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'socket.io';
import type { Logger } from '../log.js';
import { nodeIdOf, verifySignature } from '../wire/keys.js';
import {
  ClientEvent,
  PROTOCOL_REVISION,
  PROTOCOL_VERSION,
  ServerEvent,
  isRegisterRequest,
  MAX_INTRODUCED_PEERS,
  isSignalRequest,
  registerMessage,
  type Ack,
  type ChallengeMessage,
  type ProtocolError,
  type RegisterReply,
  type RegisterRequest,
  type RegisteredMessage,
  type ServerErrorCode,
  type SignalDelivery,
} from '../wire/protocol.js';
import { copyEnvelope, fail, failureOf, splitArgs, type AckFn } from './answers.js';
import type { Cluster } from './cluster.js';
import type { ClusterMessage } from './clusterMessages.js';
import type { Config } from './config.js';
import { DhtMembers } from './dhtMembers.js';
import { KeyedBuckets } from './keyedBuckets.js';
import { deliver, newPeer, replaceSession, type Peer } from './peer.js';
import type { ServerCounters } from './serverMetrics.js';
import { turnGrant } from './turnCredentials.js';

const NONCE_BYTES = 32;

/** Per-connection protocol logic and the node id → socket registry; `accept` takes each new socket. */
export class Relay {
  readonly #registry: Map<string, Peer>;
  readonly #config: Config;
  readonly #counters: ServerCounters;
  readonly #logger: Logger;
  /** Budgets by node id, on top of each socket's: they outlive a session, so re-registering does not refill them. */
  readonly #nodes: KeyedBuckets;

  /** Set when clustered, to reach nodes registered on the other servers. */
  readonly #cluster: Cluster | undefined;
  /** DHT nodes registered on this server (a cluster introduces only its own server's). */
  readonly #dhtMembers = new DhtMembers();

  constructor(registry: Map<string, Peer>, config: Config, counters: ServerCounters, logger: Logger, cluster: Cluster | undefined) {
    this.#cluster = cluster;
    this.#registry = registry;
    this.#config = config;
    this.#counters = counters;
    this.#logger = logger;
    this.#nodes = new KeyedBuckets({ ...config.nodeRateLimit, maxIdle: config.maxIdleBuckets });
  }

  accept(socket: Socket): void {
    try {
      this.#greet(socket);
    } catch (err) {
      this.#logger.error({ err, socket: socket.id }, 'could not set up socket');
      socket.disconnect(true);
    }
  }

  #greet(socket: Socket): void {
    const peer = newPeer(socket, this.#config.rateLimit, this.#logger);
    // One catch-all listener instead of per-event ones: every event, known or not, pays the rate limit first.
    socket.onAny((event: unknown, ...args: unknown[]) => this.#onEvent(peer, event, args));
    socket.on('disconnect', (reason) => this.#onDisconnect(peer, reason));
    peer.log.debug({ address: socket.handshake.address }, 'socket connected');
    const proof: unknown = socket.handshake.auth;
    if (isRegisterRequest(proof)) {
      const refusal = this.#refusal(peer, proof);
      if (!refusal) return this.#registerAtHandshake(peer, proof);
      this.#answer(peer, ClientEvent.register, proof, refusal, undefined);
    }
    this.#challenge(peer);
  }

  /** Revision 1's way in, and the fallback when the handshake's proof fails: a fresh nonce to sign. */
  #challenge(peer: Peer): void {
    peer.nonce = randomBytes(NONCE_BYTES).toString('base64url');
    peer.registerTimer = setTimeout(() => this.#onRegisterTimeout(peer), this.#config.registerTimeoutMs);
    peer.registerTimer.unref();
    const { rateLimit } = this.#config;
    const challenge: ChallengeMessage = { v: PROTOCOL_VERSION, nonce: peer.nonce, rateLimit, revision: PROTOCOL_REVISION };
    peer.socket.emit(ServerEvent.challenge, challenge);
  }

  #registerAtHandshake(peer: Peer, proof: RegisterRequest): void {
    const { rateLimit } = this.#config;
    const send = ({ ok: _, ...reply }: { ok: true } & RegisterReply): void => {
      if (peer.socket.connected) peer.socket.emit(ServerEvent.registered, { v: PROTOCOL_VERSION, rateLimit, revision: PROTOCOL_REVISION, ...reply } satisfies RegisteredMessage);
    };
    const reply = this.#enroll(peer, proof);
    if (!(reply instanceof Promise)) return send(reply);
    reply.then(send).catch((err: unknown) => peer.log.error({ err }, 'registration at handshake failed'));
  }

  /** The single entry point for client input, so no malformed event can throw past it. */
  #onEvent(peer: Peer, event: unknown, args: unknown[]): void {
    try {
      if (!peer.socket.connected) return;
      const { payload, ack } = splitArgs(args);
      const response = this.#admit(peer)
        ? this.#route(peer, event, payload)
        : fail('ERR_RATE_LIMITED', 'too many events; slow down');
      if (!(response instanceof Promise)) return this.#answer(peer, event, payload, response, ack);
      response
        .then((answer) => this.#answer(peer, event, payload, answer, ack))
        .catch((err: unknown) => peer.log.error({ err, event: String(event) }, 'signaling event handler failed'));
    } catch (err) {
      peer.log.error({ err, event: String(event) }, 'signaling event handler failed');
    }
  }

  #answer(peer: Peer, event: unknown, payload: unknown, response: Ack, ack: AckFn | undefined): void {
    if (!response.ok) {
      this.#counters.rejected[response.error.code]++;
      peer.log.debug({ code: response.error.code, event: String(event) }, response.error.message);
    }
    if (ack) return ack(response);
    if (response.ok) return;
    // Revision 2: a signal sent without asking for an ack still learns that it failed.
    if (event === ClientEvent.signal && peer.socket.connected) peer.socket.emit(ServerEvent.signalFailed, failureOf(payload, response.error));
  }

  /** Takes a token (and one of its node's); evicts sockets whose rejected events show they ignore the limit entirely. */
  #admit(peer: Peer): boolean {
    if (peer.bucket.take() && (peer.nodeId === undefined || this.#nodes.take(peer.nodeId))) return true;
    // Not "N rejections in a row": one refilled token would reset that, so a fast flood would never trip it.
    if (!peer.strikes.take()) this.#evict(peer, 'ERR_RATE_LIMITED', 'disconnected for flooding');
    return false;
  }

  #route(peer: Peer, event: unknown, payload: unknown): Ack | Promise<Ack> {
    // A switch, not an object lookup, so event names like '__proto__' cannot reach inherited properties.
    switch (event) {
      case ClientEvent.register:
        return this.#register(peer, payload);
      case ClientEvent.signal:
        return this.#signal(peer, payload);
      default:
        return fail('ERR_UNKNOWN_EVENT', `unknown event ${JSON.stringify(String(event))}`);
    }
  }

  #register(peer: Peer, payload: unknown): Ack<RegisterReply> | Promise<Ack<RegisterReply>> {
    if (peer.nodeId !== undefined) return fail('ERR_ALREADY_REGISTERED', 'this connection is already registered');
    if (!isRegisterRequest(payload)) {
      return fail('ERR_BAD_REQUEST', 'register expects { publicKey, signature } in base64url');
    }
    return this.#refusal(peer, payload) ?? this.#enroll(peer, payload);
  }

  /** Why `request` does not prove its key over this connection's nonce, if it does not. */
  #refusal(peer: Peer, request: RegisterRequest): { ok: false; error: ProtocolError } | undefined {
    const signature = Buffer.from(request.signature, 'base64url');
    if (verifySignature(request.publicKey, registerMessage(peer.nonce), signature)) return undefined;
    return fail('ERR_AUTH', "signature does not match the public key and this connection's challenge");
  }

  /** Registers the proven key's node id on this connection. */
  #enroll(peer: Peer, request: RegisterRequest): ({ ok: true } & RegisterReply) | Promise<{ ok: true } & RegisterReply> {
    // The id is derived from the proven key, so nobody can register an id they hold no key for.
    const nodeId = nodeIdOf(request.publicKey);
    this.#bind(peer, nodeId);
    this.#counters.registrations++;
    const { turn } = this.#config;
    const reply: { ok: true } & RegisterReply = turn ? { ok: true, nodeId, iceServers: [turnGrant(turn, nodeId)] } : { ok: true, nodeId };
    if (request.dht === true) {
      reply.peers = this.#dhtMembers.sample(MAX_INTRODUCED_PEERS, nodeId);
      this.#dhtMembers.add(nodeId);
    }
    return this.#cluster ? this.#claim(this.#cluster, peer, nodeId).then(() => reply) : reply;
  }

  /** Points the registry at `peer`; a proven newer session of the same node replaces the old one. */
  #bind(peer: Peer, nodeId: string): void {
    clearTimeout(peer.registerTimer);
    peer.nodeId = nodeId;
    this.#nodes.hold(nodeId);
    const previous = this.#registry.get(nodeId);
    // Set before disconnecting `previous`, so its disconnect handler sees it no longer owns the id.
    this.#registry.set(nodeId, peer);
    peer.log.info({ nodeId }, 'node registered');
    if (previous) replaceSession(previous, peer.socket.id);
  }

  /**
   * Acknowledged only once every server can reach the node (a signal sent right after the ack must not
   * find it unknown), and after replacing its sessions on other servers. If Redis fails meanwhile, the
   * node stays registered here: reachable from the other servers once Redis is back, and any session of
   * it there is left alone.
   */
  async #claim(cluster: Cluster, peer: Peer, nodeId: string): Promise<void> {
    try {
      const elsewhere = await cluster.claim(nodeId);
      // Unless a newer session here has taken over meanwhile: it does this itself.
      if (elsewhere && this.#registry.get(nodeId) === peer) cluster.replace(nodeId, peer.socket.id);
    } catch (err) {
      peer.log.warn({ err: (err as Error).message, nodeId }, 'node registered on this server only: Redis cannot be reached');
    }
  }

  #signal(peer: Peer, payload: unknown): Ack | Promise<Ack> {
    const from = peer.nodeId;
    if (from === undefined) return fail('ERR_NOT_REGISTERED', 'register before signaling');
    if (!isSignalRequest(payload)) {
      return fail('ERR_BAD_REQUEST', 'signal expects { to, envelope } with a well-formed envelope');
    }
    const { to, envelope } = payload;
    if (envelope.from !== from) return fail('ERR_BAD_REQUEST', 'envelope.from is not your registered node id');
    if (envelope.to !== to) return fail('ERR_BAD_REQUEST', 'envelope.to does not match to');
    // Encoded once, whichever server delivers it.
    const delivery = JSON.stringify({ from, envelope: copyEnvelope(envelope) } satisfies SignalDelivery);
    const target = this.#registry.get(to);
    if (target) {
      deliver(target, delivery);
      this.#counters.relayedSignals++;
      return { ok: true };
    }
    if (!this.#cluster) return fail('ERR_UNKNOWN_PEER', 'no node with that id is connected');
    return this.#relayInCluster(this.#cluster, to, delivery);
  }

  /**
   * Publishes to `to`'s channel before its first await, so one connection's signals reach Redis, and so
   * the target's server, in the order they came; Redis answers whether any server holds the node.
   */
  async #relayInCluster(cluster: Cluster, to: string, delivery: string): Promise<Ack> {
    let delivered: boolean;
    try {
      delivered = await cluster.signal(to, delivery);
    } catch (err) {
      this.#logger.warn({ err: (err as Error).message }, 'cannot relay through the cluster');
      return fail('ERR_CLUSTER_UNAVAILABLE', 'the signaling cluster cannot be reached right now; retry shortly');
    }
    if (!delivered) return fail('ERR_UNKNOWN_PEER', 'no node with that id is connected');
    this.#counters.relayedSignals++;
    return { ok: true };
  }

  /**
   * A message another server published on the channel of `nodeId`, which this server claimed: a signal
   * (checked and encoded by the publishing server) or the news that a newer session registered elsewhere.
   */
  fromCluster(nodeId: string, message: ClusterMessage): void {
    const peer = this.#registry.get(nodeId);
    if (!peer) return;
    if (message.kind === 'signal') return deliver(peer, message.delivery);
    if (peer.socket.id !== message.keep) replaceSession(peer, message.keep);
  }

  #onRegisterTimeout(peer: Peer): void {
    try {
      if (peer.nodeId !== undefined) return;
      this.#counters.rejected.ERR_REGISTER_TIMEOUT++;
      this.#evict(peer, 'ERR_REGISTER_TIMEOUT', 'did not register in time');
    } catch (err) {
      peer.log.error({ err }, 'register timeout handler failed');
    }
  }

  /** Tells the client why, then closes its connection (engine.io flushes the notice before closing). */
  #evict(peer: Peer, code: ServerErrorCode, message: string): void {
    peer.log.warn({ code, nodeId: peer.nodeId }, message);
    peer.socket.emit(ServerEvent.notice, { code, message });
    peer.socket.disconnect(true);
  }

  #onDisconnect(peer: Peer, reason: string): void {
    clearTimeout(peer.registerTimer);
    if (peer.nodeId !== undefined) {
      // A replaced session must not unregister the session that replaced it.
      if (this.#registry.get(peer.nodeId) === peer) {
        this.#registry.delete(peer.nodeId);
        this.#dhtMembers.delete(peer.nodeId);
        this.#cluster?.release(peer.nodeId);
      }
      this.#nodes.release(peer.nodeId);
    }
    peer.log.debug({ reason, nodeId: peer.nodeId }, 'socket disconnected');
  }
}
