/**
 * The signaling server: proves who each node is (challenge/response over its Ed25519 key) and relays
 * signed envelopes between registered nodes. It never sees anything it could forge — envelopes are
 * verified end to end by their receivers — so it is trusted only to deliver. docs/protocol.md is the
 * wire protocol in prose.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { Server, type Socket } from 'socket.io';
import { P2PError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { nodeIdOf, verifySignature } from './identity.js';
import {
  ClientEvent,
  MAX_TURN_URLS,
  PROTOCOL_VERSION,
  ServerEvent,
  isRegisterRequest,
  isSignalRequest,
  isTurnUrl,
  registerMessage,
  type Ack,
  type ChallengeMessage,
  type Envelope,
  type IceServerGrant,
  type ProtocolError,
  type RegisterReply,
  type ServerErrorCode,
  type SignalDelivery,
} from './protocol.js';
import { Doorman } from './admission.js';
import { joinCluster, nodeRoom, type Cluster } from './cluster.js';
import { REDIS_SCHEMES, hasScheme } from './url.js';
import { KeyedBuckets, TokenBucket } from './rateLimit.js';
import { EXPOSITION_CONTENT_TYPE, ServerCounters, exposition, type SignalingMetrics } from './serverMetrics.js';
import { DEFAULT_TURN_TTL_SECONDS, turnCredentials, type TurnRestOptions } from './turnCredentials.js';

/** Settings of {@link createSignalingServer}; every field is optional. */
export interface SignalingServerOptions {
  /** TCP port; default 0 (a random free port, read it back from {@link SignalingServer.port}). */
  port?: number;
  /** Interface to listen on; default '127.0.0.1'. */
  host?: string;
  /** Sockets not registered this long after connecting get `notice` ERR_REGISTER_TIMEOUT and are dropped; default 5000. */
  registerTimeoutMs?: number;
  /** Largest Socket.IO message accepted; bigger ones close the connection. Default 64 KiB. */
  maxPayloadBytes?: number;
  /** Incoming events allowed per socket; default `{ perSecond: 100, burst: 200 }`. */
  rateLimit?: { perSecond: number; burst: number };
  /**
   * Events allowed per registered node id, across all its connections and for a while after they close,
   * so reconnecting does not buy a node a fresh budget. Default `rateLimit`'s rate with twice its burst,
   * so a client pacing itself to the per-socket budget it is told stays within it across a reconnect.
   */
  nodeRateLimit?: { perSecond: number; burst: number };
  /**
   * Concurrent connections allowed per remote address (an IPv4 address, or an IPv6 /64); more are
   * refused at the handshake with ERR_TOO_MANY_CONNECTIONS. Default 64. Behind a reverse proxy every
   * client has the proxy's address: raise this, or limit at the proxy.
   */
  maxConnectionsPerAddress?: number;
  /** New connections allowed per remote address; more are refused with ERR_HANDSHAKE_RATE_LIMITED. Default `{ perSecond: 16, burst: 32 }`. */
  handshakeRateLimit?: { perSecond: number; burst: number };
  /**
   * Per-address and per-node budgets remembered after their last connection closed, until they refill;
   * beyond this many (of each kind), the least recently released are forgotten early. Default 10 000.
   */
  maxIdleBuckets?: number;
  /** Names this server in `GET /metrics` (the `server` label), to tell apart a cluster's servers. Default `hostname:port`. */
  serverId?: string;
  /**
   * `redis://…`: join the cluster of every server using this Redis. Nodes registered on any of them
   * signal each other, the registry is cluster-wide (a newer session anywhere replaces the older one,
   * ERR_UNKNOWN_PEER means unknown everywhere). Needs Redis 7 or later (sharded pub/sub). Default none:
   * a single server.
   */
  redis?: string;
  /**
   * A TURN relay sharing this secret (coturn `use-auth-secret`): every registered node gets credentials
   * for it in its register ack, valid `ttlSeconds` (default a day). Default none.
   */
  turn?: TurnRestOptions;
  /** Default {@link silentLogger}. */
  logger?: Logger;
}

/** A running signaling server. */
export interface SignalingServer {
  /** `http://host:port`, what clients connect to. */
  readonly url: string;
  /** The port actually bound (useful with `port: 0`). */
  readonly port: number;
  readonly host: string;
  /** What `GET /metrics` serves, for an embedding application to publish its own way. */
  metrics(): SignalingMetrics;
  /** Disconnects every client and stops listening; later calls return the same promise. */
  close(): Promise<void>;
}

type Config = Required<Omit<SignalingServerOptions, 'logger' | 'turn' | 'serverId' | 'redis'>> & {
  turn: Required<TurnRestOptions> | undefined;
  serverId: string | undefined;
  redis: string | undefined;
};

/**
 * Rejected events go into a second bucket this many times the burst, refilled at the same rate: a bursty
 * client only gets ERR_RATE_LIMITED answers, one that keeps sending well over the rate empties it and is dropped.
 */
const FLOOD_FACTOR = 5;
const NONCE_BYTES = 32;

/** What the server knows about one connected socket. */
interface Peer {
  readonly socket: Socket;
  readonly log: Logger;
  readonly bucket: TokenBucket;
  /** Pays for rejected events; when it is empty too, the socket is flooding. */
  readonly strikes: TokenBucket;
  /** The challenge for this connection; a successful register uses it up (the socket cannot register again). */
  readonly nonce: string;
  nodeId: string | undefined;
  registerTimer: NodeJS.Timeout | undefined;
}

type AckFn = (response: Ack) => void;

/**
 * Starts a signaling server and resolves once it is listening.
 *
 * @example
 * ```ts
 * const server = await createSignalingServer({ port: 8080, host: '0.0.0.0', logger: pino() });
 * console.log(`signaling on ${server.url}`);
 * process.on('SIGTERM', () => void server.close());
 * ```
 * @throws P2PError ERR_INVALID_OPTION for a malformed option; the listen error (e.g. EADDRINUSE) if binding fails.
 */
export async function createSignalingServer(options: SignalingServerOptions = {}): Promise<SignalingServer> {
  const config = resolveConfig(options);
  const logger = (options.logger ?? silentLogger).child({ component: 'signaling-server' });
  const registry = new Map<string, Peer>();
  const counters = new ServerCounters();
  const http = createServer((req, res) => answerHttp(req, res, metrics));
  const doorman = new Doorman(
    { maxConnections: config.maxConnectionsPerAddress, handshakes: config.handshakeRateLimit, maxIdle: config.maxIdleBuckets },
    counters,
    logger,
  );
  const io = new Server(http, {
    transports: ['websocket'],
    maxHttpBufferSize: config.maxPayloadBytes,
    serveClient: false,
    allowRequest: (req, callback) => doorman.admit(req, callback),
  });
  const cluster = config.redis === undefined ? undefined : await joinCluster(io, config.redis, logger);
  const relay = new Relay(registry, config, counters, logger, cluster);
  io.on('connection', (socket) => relay.accept(socket));

  try {
    await listen(http, config.port, config.host);
  } catch (err) {
    await io.close();
    await cluster?.close();
    throw err;
  }
  const port = (http.address() as AddressInfo).port;
  const host = config.host;
  const server = config.serverId ?? `${hostname()}:${port}`;
  function metrics(): SignalingMetrics {
    return {
      server,
      connectedSockets: io.engine.clientsCount,
      registeredNodes: registry.size,
      registrationsTotal: counters.registrations,
      relayedSignalsTotal: counters.relayedSignals,
      rejectedTotal: { ...counters.rejected },
      residentMemoryBytes: process.memoryUsage.rss(),
    };
  }
  logger.info({ host, port, server }, 'signaling server listening');
  if (config.turn) logger.info({ urls: config.turn.urls, ttlSeconds: config.turn.ttlSeconds }, 'handing out TURN credentials');

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    host,
    metrics,
    close: () =>
      (closing ??= io
        .close()
        .then(() => cluster?.close())
        .then(() => logger.info({ host, port }, 'signaling server closed'))),
  };
}

function resolveConfig(options: SignalingServerOptions): Config {
  const rateLimit = options.rateLimit ?? { perSecond: 100, burst: 200 };
  const config: Config = {
    port: options.port ?? 0,
    host: options.host ?? '127.0.0.1',
    registerTimeoutMs: options.registerTimeoutMs ?? 5000,
    maxPayloadBytes: options.maxPayloadBytes ?? 64 * 1024,
    rateLimit,
    nodeRateLimit: options.nodeRateLimit ?? { perSecond: rateLimit.perSecond, burst: 2 * rateLimit.burst },
    maxConnectionsPerAddress: options.maxConnectionsPerAddress ?? 64,
    handshakeRateLimit: options.handshakeRateLimit ?? { perSecond: 16, burst: 32 },
    maxIdleBuckets: options.maxIdleBuckets ?? 10_000,
    serverId: options.serverId,
    redis: options.redis,
    turn: resolveTurn(options.turn),
  };
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) invalid('port', config.port);
  if (typeof config.host !== 'string' || config.host === '') invalid('host', config.host);
  if (!isPositive(config.registerTimeoutMs)) invalid('registerTimeoutMs', config.registerTimeoutMs);
  if (!isPositive(config.maxPayloadBytes)) invalid('maxPayloadBytes', config.maxPayloadBytes);
  if (!isPositive(config.rateLimit.perSecond)) invalid('rateLimit.perSecond', config.rateLimit.perSecond);
  if (!isPositive(config.rateLimit.burst)) invalid('rateLimit.burst', config.rateLimit.burst);
  if (!isPositive(config.nodeRateLimit.perSecond)) invalid('nodeRateLimit.perSecond', config.nodeRateLimit.perSecond);
  if (!isPositive(config.nodeRateLimit.burst)) invalid('nodeRateLimit.burst', config.nodeRateLimit.burst);
  if (!isPositiveInteger(config.maxConnectionsPerAddress)) invalid('maxConnectionsPerAddress', config.maxConnectionsPerAddress);
  if (!isPositive(config.handshakeRateLimit.perSecond)) invalid('handshakeRateLimit.perSecond', config.handshakeRateLimit.perSecond);
  if (!isPositive(config.handshakeRateLimit.burst)) invalid('handshakeRateLimit.burst', config.handshakeRateLimit.burst);
  if (!isPositiveInteger(config.maxIdleBuckets)) invalid('maxIdleBuckets', config.maxIdleBuckets);
  if (config.serverId !== undefined && (typeof config.serverId !== 'string' || config.serverId === '')) {
    invalid('serverId', config.serverId);
  }
  if (config.redis !== undefined && !hasScheme(config.redis, REDIS_SCHEMES)) invalid('redis', '(not a redis:// URL)');
  return config;
}

function resolveTurn(turn: TurnRestOptions | undefined): Required<TurnRestOptions> | undefined {
  if (turn === undefined) return undefined;
  const { urls, secret, ttlSeconds = DEFAULT_TURN_TTL_SECONDS } = turn;
  // The client refuses more URLs than MAX_TURN_URLS, so more would silently cost every node its relay.
  if (!Array.isArray(urls) || urls.length === 0 || urls.length > MAX_TURN_URLS || !urls.every(isTurnUrl)) {
    invalid('turn.urls', urls);
  }
  // Not through invalid(): the message would print the secret.
  if (typeof secret !== 'string' || secret === '') {
    throw new P2PError('ERR_INVALID_OPTION', 'signaling server option turn.secret must be a non-empty string');
  }
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) invalid('turn.ttlSeconds', ttlSeconds);
  return { urls: [...urls], secret, ttlSeconds };
}

/** Credentials for `nodeId` from now on, so a node's relay access lapses `ttlSeconds` after its last registration. */
function turnGrant(turn: Required<TurnRestOptions>, nodeId: string): IceServerGrant {
  const expiresAt = Math.floor(Date.now() / 1000) + turn.ttlSeconds;
  return { urls: turn.urls, ...turnCredentials(turn.secret, nodeId, expiresAt) };
}

function isPositive(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

function isPositiveInteger(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

function invalid(name: string, value: unknown): never {
  throw new P2PError('ERR_INVALID_OPTION', `signaling server option ${name} is invalid: ${String(value)}`);
}

/** Plain HTTP: the health check and metrics; Socket.IO's own path never reaches here (engine.io intercepts it). */
function answerHttp(req: IncomingMessage, res: ServerResponse, metrics: () => SignalingMetrics): void {
  const path = (req.url ?? '').split('?', 1)[0];
  if (req.method === 'GET' && path === '/health') {
    sendJson(res, 200, { status: 'ok', nodes: metrics().registeredNodes });
  } else if (req.method === 'GET' && path === '/metrics') {
    const text = exposition(metrics());
    res.writeHead(200, { 'content-type': EXPOSITION_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  } else {
    sendJson(res, 404, { error: 'not found' });
  }
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function listen(http: HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
}

function fail(code: ServerErrorCode, message: string): { ok: false; error: ProtocolError } {
  return { ok: false, error: { code, message } };
}

/** Splits Socket.IO event arguments into the payload and the ack callback (present only if the client asked). */
function splitArgs(args: unknown[]): { payload: unknown; ack: AckFn | undefined } {
  const last = args[args.length - 1];
  const ack = typeof last === 'function' ? (last as AckFn) : undefined;
  return { payload: ack && args.length === 1 ? undefined : args[0], ack };
}

/** Copies exactly the signed fields, so junk a client attached never reaches the receiver. */
function copyEnvelope(e: Envelope): Envelope {
  const { v, from, key, to, session, seq, ts, kind, data, sig } = e;
  return { v, from, key, to, session, seq, ts, kind, data, sig };
}

/** Per-connection protocol logic and the node id → socket registry. */
class Relay {
  readonly #registry: Map<string, Peer>;
  readonly #config: Config;
  readonly #counters: ServerCounters;
  readonly #logger: Logger;
  /** Budgets by node id, on top of each socket's: they outlive a session, so re-registering does not refill them. */
  readonly #nodes: KeyedBuckets;

  /** Set when clustered, to reach nodes registered on the other servers. */
  readonly #cluster: Cluster | undefined;

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
    const peer: Peer = {
      socket,
      log: this.#logger.child({ socket: socket.id }),
      bucket: new TokenBucket(this.#config.rateLimit),
      strikes: new TokenBucket({
        perSecond: this.#config.rateLimit.perSecond,
        burst: FLOOD_FACTOR * this.#config.rateLimit.burst,
      }),
      nonce: randomBytes(NONCE_BYTES).toString('base64url'),
      nodeId: undefined,
      registerTimer: undefined,
    };
    // One catch-all listener instead of per-event ones: every event, known or not, pays the rate limit first.
    socket.onAny((event: unknown, ...args: unknown[]) => this.#onEvent(peer, event, args));
    socket.on('disconnect', (reason) => this.#onDisconnect(peer, reason));
    peer.registerTimer = setTimeout(() => this.#onRegisterTimeout(peer), this.#config.registerTimeoutMs);
    peer.registerTimer.unref();
    const challenge: ChallengeMessage = { v: PROTOCOL_VERSION, nonce: peer.nonce, rateLimit: this.#config.rateLimit };
    socket.emit(ServerEvent.challenge, challenge);
    peer.log.debug({ address: socket.handshake.address }, 'socket connected');
  }

  /** The single entry point for client input, so no malformed event can throw past it. */
  #onEvent(peer: Peer, event: unknown, args: unknown[]): void {
    try {
      if (!peer.socket.connected) return;
      const { payload, ack } = splitArgs(args);
      const response = this.#admit(peer)
        ? this.#route(peer, event, payload)
        : fail('ERR_RATE_LIMITED', 'too many events; slow down');
      if (!(response instanceof Promise)) return this.#answer(peer, event, response, ack);
      response
        .then((answer) => this.#answer(peer, event, answer, ack))
        .catch((err: unknown) => peer.log.error({ err, event: String(event) }, 'signaling event handler failed'));
    } catch (err) {
      peer.log.error({ err, event: String(event) }, 'signaling event handler failed');
    }
  }

  #answer(peer: Peer, event: unknown, response: Ack, ack: AckFn | undefined): void {
    if (!response.ok) {
      this.#counters.rejected[response.error.code]++;
      peer.log.debug({ code: response.error.code, event: String(event) }, response.error.message);
    }
    ack?.(response);
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
    const signature = Buffer.from(payload.signature, 'base64url');
    if (!verifySignature(payload.publicKey, registerMessage(peer.nonce), signature)) {
      return fail('ERR_AUTH', "signature does not match the public key and this connection's challenge");
    }
    // The id is derived from the proven key, so nobody can register an id they hold no key for.
    const nodeId = nodeIdOf(payload.publicKey);
    this.#bind(peer, nodeId);
    this.#counters.registrations++;
    const { turn } = this.#config;
    const reply: Ack<RegisterReply> = turn ? { ok: true, nodeId, iceServers: [turnGrant(turn, nodeId)] } : { ok: true, nodeId };
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
    // Joined before `previous` leaves, so the room and its Redis subscription never lapse.
    if (this.#cluster) void peer.socket.join(nodeRoom(nodeId));
    if (previous) {
      previous.log.info({ nodeId, by: peer.socket.id }, 'session replaced by a newer one');
      previous.socket.emit(ServerEvent.replaced, {});
      previous.socket.disconnect(true);
    }
  }

  /**
   * Acknowledged only once every server can reach the node (a signal sent right after the ack must not
   * find it unknown), and after replacing its sessions on other servers. If Redis fails meanwhile, the
   * node stays registered here: reachable from the other servers once Redis is back, and any session of
   * it there is left alone.
   */
  async #claim(cluster: Cluster, peer: Peer, nodeId: string): Promise<void> {
    const room = nodeRoom(nodeId);
    try {
      const elsewhere = await cluster.joined(room);
      // Unless a newer session here has taken over meanwhile: it does this itself.
      if (elsewhere && this.#registry.get(nodeId) === peer) cluster.replace(room, peer.socket.id, ServerEvent.replaced);
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
    const delivery: SignalDelivery = { from, envelope: copyEnvelope(envelope) };
    const target = this.#registry.get(to);
    if (target) {
      target.socket.emit(ServerEvent.signal, delivery);
      this.#counters.relayedSignals++;
      return { ok: true };
    }
    if (!this.#cluster) return fail('ERR_UNKNOWN_PEER', 'no node with that id is connected');
    return this.#relayInCluster(this.#cluster, to, delivery);
  }

  /**
   * Publishes to `to`'s room before its first await, so one connection's signals reach Redis, and so
   * the target's server, in the order they came; Redis answers whether any server holds the room.
   */
  async #relayInCluster(cluster: Cluster, to: string, delivery: SignalDelivery): Promise<Ack> {
    let delivered: boolean;
    try {
      delivered = await cluster.emit(nodeRoom(to), ServerEvent.signal, delivery);
    } catch (err) {
      this.#logger.warn({ err: (err as Error).message }, 'cannot relay through the cluster');
      return fail('ERR_CLUSTER_UNAVAILABLE', 'the signaling cluster cannot be reached right now; retry shortly');
    }
    if (!delivered) return fail('ERR_UNKNOWN_PEER', 'no node with that id is connected');
    this.#counters.relayedSignals++;
    return { ok: true };
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
      if (this.#registry.get(peer.nodeId) === peer) this.#registry.delete(peer.nodeId);
      this.#nodes.release(peer.nodeId);
    }
    peer.log.debug({ reason, nodeId: peer.nodeId }, 'socket disconnected');
  }
}
