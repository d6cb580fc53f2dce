/** The signaling server's options: what each means, its default, and the checks it must pass. */
import { P2PError, describeValue } from '../errors.js';
import type { Logger } from '../log.js';
import { hasScheme } from '../url.js';
import { MAX_TURN_URLS, isRecord, isTurnUrl } from '../wire/protocol.js';
import { DEFAULT_TURN_TTL_SECONDS, type TurnRestOptions } from './turnCredentials.js';

/** What a Redis URL may start with. */
export const REDIS_SCHEMES = ['redis:', 'rediss:'];

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
  /**
   * A folder whose files are served at `/` (index.html) and `/<name>`, read once at start: the
   * bundled web app is dist/web (`p2p-node signal --web`). Default none.
   */
  webApp?: string;
  /** Default {@link silentLogger}. */
  logger?: Logger;
}

export type Config = Required<Omit<SignalingServerOptions, 'logger' | 'turn' | 'serverId' | 'redis' | 'webApp'>> & {
  webApp: string | undefined;
  turn: Required<TurnRestOptions> | undefined;
  serverId: string | undefined;
  redis: string | undefined;
};

/** {@link SignalingServerOptions} with defaults filled in, checked. */
export function resolveConfig(options: SignalingServerOptions): Config {
  if (!isRecord(options as unknown)) invalid('options', describeValue(options));
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
    webApp: options.webApp,
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
  if (config.webApp !== undefined && (typeof config.webApp !== 'string' || config.webApp === '')) invalid('webApp', config.webApp);
  if (config.redis !== undefined && !hasScheme(config.redis, REDIS_SCHEMES)) invalid('redis', '(not a redis:// URL)');
  const { logger } = options;
  if (logger !== undefined && !(isRecord(logger) && typeof logger.child === 'function')) {
    invalid('logger', describeValue(logger));
  }
  return config;
}

function resolveTurn(turn: TurnRestOptions | undefined): Required<TurnRestOptions> | undefined {
  if (turn === undefined) return undefined;
  if (!isRecord(turn)) invalid('turn', describeValue(turn));
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

function isPositive(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

function isPositiveInteger(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

function invalid(name: string, value: unknown): never {
  throw new P2PError('ERR_INVALID_OPTION', `signaling server option ${name} is invalid: ${typeof value === 'string' ? value : describeValue(value)}`);
}
