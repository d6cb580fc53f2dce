/**
 * Joins signaling servers into one cluster through Redis: the only file that imports `redis` and the
 * Socket.IO Redis adapter. The adapter carries room broadcasts and `fetchSockets()` between servers,
 * which is all the cluster needs: each registered node sits in a room named after its id, on whichever
 * server it connected to.
 */
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import type { Server } from 'socket.io';
import { P2PError } from '../errors.js';
import type { Logger } from '../log.js';

/** How long a server waits for Redis at startup before giving up. */
const CONNECT_TIMEOUT_MS = 5000;
/** How long a cross-server question (is this node registered anywhere?) may take. */
export const CLUSTER_REQUEST_TIMEOUT_MS = 2000;

export interface Cluster {
  /** Disconnects from Redis. */
  close(): Promise<void>;
}

/** The adapter's Redis calls it does not wait for: while Redis is away, each would be an unhandled rejection. */
const FIRE_AND_FORGET = new Set<PropertyKey>(['publish', 'pSubscribe', 'subscribe', 'pUnsubscribe', 'unsubscribe']);

/** `client`, with a failure of any {@link FIRE_AND_FORGET} call handled by `onError` (callers still see it). */
function guarded<T extends object>(client: T, onError: (err: Error) => void): T {
  return new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (!FIRE_AND_FORGET.has(property)) return value.bind(target);
      return (...args: unknown[]): unknown => {
        const result: unknown = value.apply(target, args);
        if (result instanceof Promise) result.catch(onError);
        return result;
      };
    },
  });
}

/** The Socket.IO room of a registered node, on every server of a cluster. */
export const nodeRoom = (nodeId: string): string => `node:${nodeId}`;

/**
 * Connects to Redis at `url` and installs the adapter on `io`. Rejects with `ERR_REDIS_UNAVAILABLE`
 * when Redis does not answer within 5 s. Once running, losing Redis is logged, not thrown: the
 * clients reconnect with backoff, cross-server relays fail meanwhile, and local ones keep working.
 */
export async function joinCluster(io: Server, url: string, logger: Logger): Promise<Cluster> {
  // Never the whole URL: it may carry a password.
  const where = new URL(url).host;
  const pub = createClient({
    url,
    socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 2000) },
    // While Redis is away, commands fail at once instead of piling up until it returns.
    disableOfflineQueue: true,
  });
  const sub = pub.duplicate();
  let reported = false;
  for (const client of [pub, sub]) {
    client.on('error', (err: Error) => {
      // Reported once per outage: the client retries every 2 s and would repeat it.
      if (!reported) logger.error({ err: err.message }, 'Redis connection failed; cross-server relay is down until it returns');
      reported = true;
    });
    client.on('ready', () => {
      if (reported) logger.info({}, 'Redis connection back');
      reported = false;
    });
  }
  const quit = async (): Promise<void> => {
    await Promise.allSettled([pub, sub].map((client) => (client.isOpen ? client.disconnect() : undefined)));
  };
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new P2PError('ERR_REDIS_UNAVAILABLE', `Redis at ${where} did not answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
  });
  try {
    await Promise.race([Promise.all([pub.connect(), sub.connect()]), timedOut]);
  } catch (err) {
    await quit();
    throw err instanceof P2PError ? err : new P2PError('ERR_REDIS_UNAVAILABLE', `cannot connect to Redis at ${where}: ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
  const lost = (err: Error): void => logger.debug({ err: err.message }, 'a Redis command failed');
  io.adapter(createAdapter(guarded(pub, lost), guarded(sub, lost), { requestsTimeout: CLUSTER_REQUEST_TIMEOUT_MS }));
  logger.info({ redis: where }, 'joined the signaling cluster');
  return { close: quit };
}
