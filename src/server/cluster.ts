/**
 * Joins signaling servers into one cluster through Redis 7's sharded pub/sub: the only file that
 * imports `redis`. Every node registered on a server has a channel of its own, subscribed to only by
 * that server (docs/protocol.md §5.1): a signal to another server is one SPUBLISH of the delivery's
 * JSON text, heard only by the node's server, which writes it to the node's socket as it is; Redis's
 * reply (how many servers heard it) tells whether the node is registered anywhere, so other servers
 * are never asked.
 */
import { createClient, ErrorReply } from 'redis';
import { P2PError } from '../errors.js';
import type { Logger } from '../log.js';
import { channelNode, nodeChannel, parseClusterMessage, replaceMessage, signalMessage, type ClusterMessage } from './clusterMessages.js';

/** How long a server waits for Redis at startup before giving up. */
const CONNECT_TIMEOUT_MS = 5000;
/** How long one Redis step of a relay or registration may take before it counts as Redis being unavailable. */
export const CLUSTER_REQUEST_TIMEOUT_MS = 2000;

export interface Cluster {
  /**
   * Subscribes this server to `nodeId`'s channel (once, however many sessions of it register here) and
   * resolves once the subscription is active, so that any server can reach the node, with whether other
   * servers hold a session of it too. Rejects when Redis fails or a step takes longer than
   * {@link CLUSTER_REQUEST_TIMEOUT_MS}; a failed subscription is retried when Redis is back.
   */
  claim(nodeId: string): Promise<boolean>;
  /** Unsubscribes from `nodeId`'s channel: no session of it is left on this server. */
  release(nodeId: string): void;
  /** Tells every server to drop its sessions of `nodeId` but the one with Socket.IO id `keep`. */
  replace(nodeId: string, keep: string): void;
  /**
   * Hands `delivery` (a `signal` payload's JSON text) to Redis for `nodeId` before returning (so calls
   * keep their order) and resolves with whether any server holds the node. Rejects like {@link claim}.
   */
  signal(nodeId: string, delivery: string): Promise<boolean>;
  /** Disconnects from Redis. */
  close(): Promise<void>;
}

/** What a server does with a message published on the channel of `nodeId`, a node it holds. */
export type ClusterInbox = (nodeId: string, message: ClusterMessage) => void;

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer ${what} within ${CLUSTER_REQUEST_TIMEOUT_MS} ms`)), CLUSTER_REQUEST_TIMEOUT_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const settled = (promise: Promise<unknown>): Promise<void> => promise.then(() => undefined, () => undefined);

interface Wish {
  /** The latest SSUBSCRIBE for the channel. */
  attempt: Promise<unknown>;
  failed: boolean;
}

interface SubscriberClient {
  readonly isReady: boolean;
  sSubscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  sUnsubscribe(channel: string): Promise<unknown>;
}

/**
 * The channels this server wants, and what became of its requests. The Redis client forgets a failed
 * SSUBSCRIBE, resubscribes after a reconnect to what it counted as subscribed, and sends a SUNSUBSCRIBE
 * queued during an outage before that resubscription. Kept here, a registration can wait for its
 * channel's subscription, and once Redis is back neither a node is left unsubscribed nor a channel
 * subscribed for a node that is gone.
 */
class Subscriptions {
  readonly #wanted = new Map<string, Wish>();
  /** SUNSUBSCRIBEs not answered yet. */
  readonly #leaving = new Map<string, Promise<unknown>>();
  /** Channels left while Redis was away, or whose SUNSUBSCRIBE failed: Redis may still count them. */
  readonly #unsure = new Set<string>();

  constructor(
    private readonly client: SubscriberClient,
    private readonly listener: (message: string, channel: string) => void,
    private readonly lost: (err: unknown) => void,
  ) {}

  /** Subscribes to `channel` unless already subscribed or on the way; the latest attempt. */
  subscribe(channel: string): Promise<unknown> {
    const held = this.#wanted.get(channel);
    if (held && !held.failed) return held.attempt;
    const wish: Wish = { attempt: Promise.resolve(), failed: false };
    this.#wanted.set(channel, wish);
    const leaving = this.#leaving.get(channel);
    // Until that SUNSUBSCRIBE is answered, the client would take the channel for subscribed and send no
    // SSUBSCRIBE, then forget the channel when the answer comes.
    const current = (): unknown => (this.#wanted.get(channel) === wish ? this.#join(channel) : undefined);
    this.#try(wish, leaving ? settled(leaving).then(current) : this.#join(channel));
    return wish.attempt;
  }

  unsubscribe(channel: string): void {
    this.#wanted.delete(channel);
    this.#leave(channel);
  }

  /** Once the client is back (and has resubscribed): subscribes where the last attempt failed, leaves where it is unsure. */
  reconcile(): void {
    for (const [channel, wish] of this.#wanted) if (wish.failed) this.#try(wish, this.#join(channel));
    const unsure = [...this.#unsure];
    this.#unsure.clear();
    for (const channel of unsure) if (!this.#wanted.has(channel)) this.#leave(channel);
  }

  #join(channel: string): Promise<unknown> {
    return this.client.sSubscribe(channel, this.listener);
  }

  #try(wish: Wish, attempt: Promise<unknown>): void {
    wish.attempt = attempt;
    wish.failed = false;
    attempt.catch((err: unknown) => {
      this.lost(err);
      if (wish.attempt === attempt) wish.failed = true;
    });
  }

  #leave(channel: string): void {
    if (!this.client.isReady) this.#unsure.add(channel);
    const request = this.client.sUnsubscribe(channel);
    this.#leaving.set(channel, request);
    void request
      .catch((err: unknown) => {
        this.lost(err);
        this.#unsure.add(channel);
      })
      .finally(() => {
        if (this.#leaving.get(channel) === request) this.#leaving.delete(channel);
      });
  }
}

/**
 * Connects to Redis at `url`; messages for the nodes this server claims go to `inbox`. Rejects with
 * `ERR_REDIS_UNAVAILABLE` when Redis does not answer within 5 s or is older than 7 (no sharded
 * pub/sub). Once running, losing Redis is logged, not thrown: the clients reconnect with backoff,
 * cross-server relays fail meanwhile, and local ones keep working.
 */
export async function joinCluster(url: string, logger: Logger, inbox: ClusterInbox): Promise<Cluster> {
  // Never the whole URL: it may carry a password.
  const where = new URL(url).host;
  const pub = createClient({
    url,
    socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 2000) },
    // While Redis is away, commands fail at once instead of piling up until it returns.
    disableOfflineQueue: true,
  });
  const sub = pub.duplicate();
  const lost = (err: unknown): void => logger.debug({ err: (err as Error).message }, 'a Redis command failed');
  const hear = (message: string, channel: string): void => {
    const nodeId = channelNode(channel);
    const parsed = parseClusterMessage(message);
    if (nodeId === undefined || !parsed) return logger.warn({ channel }, 'dropped a malformed cluster message');
    try {
      inbox(nodeId, parsed);
    } catch (err) {
      logger.error({ err, nodeId }, 'cluster message handler failed');
    }
  };
  const subscriptions = new Subscriptions(sub, hear, lost);
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
  sub.on('ready', () => subscriptions.reconcile());
  const quit = async (): Promise<void> => {
    await Promise.allSettled([pub, sub].map((client) => (client.isOpen ? client.disconnect() : undefined)));
  };
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new P2PError('ERR_REDIS_UNAVAILABLE', `Redis at ${where} did not answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
  });
  try {
    await Promise.race([Promise.all([pub.connect(), sub.connect()]), timedOut]);
    await Promise.race([requireShardedPubSub(pub, where), timedOut]);
  } catch (err) {
    await quit();
    throw err instanceof P2PError ? err : new P2PError('ERR_REDIS_UNAVAILABLE', `cannot connect to Redis at ${where}: ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
  logger.info({ redis: where }, 'joined the signaling cluster');

  return {
    async claim(nodeId) {
      const channel = nodeChannel(nodeId);
      const subscribed = subscriptions.subscribe(channel);
      // Not worth a wait: the subscription is made again once Redis is back.
      if (!sub.isReady || !pub.isReady) throw new Error('Redis is unavailable');
      await within(subscribed, 'a subscription');
      const holders = await within(pub.pubSubShardNumSub(channel), 'PUBSUB SHARDNUMSUB');
      return (holders[channel] ?? 0) > 1;
    },
    release(nodeId) {
      subscriptions.unsubscribe(nodeChannel(nodeId));
    },
    replace(nodeId, keep) {
      pub.sPublish(nodeChannel(nodeId), replaceMessage(keep)).catch(lost);
    },
    signal(nodeId, delivery) {
      return within(pub.sPublish(nodeChannel(nodeId), signalMessage(delivery)), 'SPUBLISH').then((receivers) => receivers > 0);
    },
    close: quit,
  };
}

/** Sharded pub/sub came with Redis 7; an older one would fail every subscription, so refuse it at startup. */
async function requireShardedPubSub(pub: { pubSubShardNumSub(channel: string): Promise<unknown> }, where: string): Promise<void> {
  try {
    await pub.pubSubShardNumSub(nodeChannel(''));
  } catch (err) {
    if (!(err instanceof ErrorReply)) throw err;
    throw new P2PError(
      'ERR_REDIS_UNAVAILABLE',
      `Redis at ${where} lacks sharded pub/sub (${(err as Error).message}); a signaling cluster needs Redis 7 or later`,
      { cause: err },
    );
  }
}
