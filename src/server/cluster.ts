/**
 * Joins signaling servers into one cluster through Redis: the only file that imports `redis` and the
 * Socket.IO Redis adapter. Each registered node sits in a room named after its id, on whichever server
 * it connected to. The sharded adapter in 'dynamic' mode gives each such room its own Redis 7 sharded
 * pub/sub channel, subscribed to only by the server holding the room: a signal to another server is one
 * SPUBLISH that reaches only that server, and its reply (how many servers got it) tells whether the node
 * is registered anywhere, so other servers are never asked.
 */
import { createShardedAdapter } from '@socket.io/redis-adapter';
import { createClient, ErrorReply } from 'redis';
import type { Server } from 'socket.io';
import { P2PError } from '../errors.js';
import type { Logger } from '../log.js';

/** How long a server waits for Redis at startup before giving up. */
const CONNECT_TIMEOUT_MS = 5000;
/** How long one Redis step of a relay or registration may take before it counts as Redis being unavailable. */
export const CLUSTER_REQUEST_TIMEOUT_MS = 2000;
/** Our channels' prefix, so other Socket.IO applications on the same Redis are neither heard nor disturbed. */
const CHANNEL_PREFIX = 'p2p-signaling';

/** The Socket.IO room of a registered node, on every server of a cluster. */
export const nodeRoom = (nodeId: string): string => `node:${nodeId}`;

/**
 * The sharded channel the adapter uses for `room` of the main namespace. It mirrors the adapter's private
 * `dynamicChannel()` (@socket.io/redis-adapter 8.3: `<prefix>#<namespace>#<room>#`); nothing else in this
 * project computes it, and the cluster tests fail if the two ever drift apart.
 */
export const roomChannel = (room: string): string => `${CHANNEL_PREFIX}#/#${room}#`;

export interface Cluster {
  /**
   * Resolves once this server's subscription to `room` (just joined here) is active, so that any server
   * can reach it, with whether other servers hold the room too. Rejects when Redis fails or a step takes
   * longer than {@link CLUSTER_REQUEST_TIMEOUT_MS}; a failed subscription is retried when Redis is back.
   */
  joined(room: string): Promise<boolean>;
  /** Sends `event` to the sockets of `room` on every server except `keep`, then disconnects them. */
  replace(room: string, keep: string, event: string): void;
  /**
   * Hands `payload` to Redis for `room` before returning (so calls keep their order) and resolves with
   * whether any server holds the room. Rejects like {@link joined}.
   */
  emit(room: string, event: string, payload: unknown): Promise<boolean>;
  /** Disconnects from Redis. */
  close(): Promise<void>;
}

type Hook = (call: () => unknown, args: unknown[]) => unknown;

/** `client`, with the methods named in `hooks` called through them. */
function hooked<T extends object>(client: T, hooks: Map<PropertyKey, Hook>): T {
  return new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const hook = hooks.get(property);
      if (!hook) return value.bind(target);
      return (...args: unknown[]): unknown => hook(() => value.apply(target, args), args);
    },
  });
}

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
  /** Makes the adapter's call again. */
  readonly call: () => unknown;
}

/**
 * The sharded channels the adapter wants, and what became of its requests. It drops the promise of each
 * SSUBSCRIBE and SUNSUBSCRIBE, and the Redis client forgets a failed SSUBSCRIBE, resubscribes after a
 * reconnect to what it counted as subscribed, and sends a SUNSUBSCRIBE queued during an outage before
 * that resubscription. Kept here, a registration can wait for its room's subscription, and once Redis
 * is back neither a room is left unsubscribed nor a channel subscribed for a room that is gone.
 */
class Subscriptions {
  readonly #wanted = new Map<string, Wish>();
  /** SUNSUBSCRIBEs not answered yet. */
  readonly #leaving = new Map<string, Promise<unknown>>();
  /** Channels left while Redis was away, or whose SUNSUBSCRIBE failed: Redis may still count them. */
  readonly #unsure = new Set<string>();

  constructor(private readonly client: { readonly isReady: boolean; sUnsubscribe(channel: string): Promise<unknown> }) {}

  /** In place of the adapter's `sSubscribe`. */
  readonly subscribe: Hook = (call, [channel]) => {
    if (typeof channel !== 'string') return call();
    const wish: Wish = { attempt: Promise.resolve(), failed: false, call };
    this.#wanted.set(channel, wish);
    const leaving = this.#leaving.get(channel);
    // Until that SUNSUBSCRIBE is answered, the client would take the channel for subscribed and send no
    // SSUBSCRIBE, then forget the channel when the answer comes.
    const current = (): unknown => (this.#wanted.get(channel) === wish ? call() : undefined);
    this.#try(wish, leaving ? settled(leaving).then(current) : (call() as Promise<unknown>));
    return wish.attempt;
  };

  /** In place of the adapter's `sUnsubscribe`. */
  readonly unsubscribe: Hook = (call, [channel]) => {
    if (typeof channel !== 'string') return call();
    this.#wanted.delete(channel);
    return this.#leave(channel, call as () => Promise<unknown>);
  };

  /** The latest subscription to `channel`, which the adapter must have asked for. */
  active(channel: string): Promise<unknown> {
    const wish = this.#wanted.get(channel);
    // Only if roomChannel() no longer computes the adapter's channel.
    if (!wish) return Promise.reject(new Error(`the Redis adapter did not subscribe to ${channel}`));
    return wish.attempt;
  }

  /** Once the client is back (and has resubscribed): subscribes where the last attempt failed, leaves where it is unsure. */
  reconcile(): void {
    for (const wish of this.#wanted.values()) if (wish.failed) this.#try(wish, wish.call() as Promise<unknown>);
    const unsure = [...this.#unsure];
    this.#unsure.clear();
    for (const channel of unsure) if (!this.#wanted.has(channel)) void this.#leave(channel, () => this.client.sUnsubscribe(channel));
  }

  #try(wish: Wish, attempt: Promise<unknown>): void {
    wish.attempt = attempt;
    wish.failed = false;
    attempt.catch(() => {
      if (wish.attempt === attempt) wish.failed = true;
    });
  }

  #leave(channel: string, call: () => Promise<unknown>): Promise<unknown> {
    if (!this.client.isReady) this.#unsure.add(channel);
    const request = call();
    this.#leaving.set(channel, request);
    void request
      .catch(() => this.#unsure.add(channel))
      .finally(() => {
        if (this.#leaving.get(channel) === request) this.#leaving.delete(channel);
      });
    return request;
  }
}

/**
 * Connects to Redis at `url` and installs the adapter on `io`. Rejects with `ERR_REDIS_UNAVAILABLE`
 * when Redis does not answer within 5 s or is older than 7 (no sharded pub/sub). Once running, losing
 * Redis is logged, not thrown: the clients reconnect with backoff, cross-server relays fail meanwhile,
 * and local ones keep working.
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
  const subscriptions = new Subscriptions(sub);
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

  const lost = (err: unknown): void => logger.debug({ err: (err as Error).message }, 'a Redis command failed');
  /** The adapter's latest SPUBLISH: it makes it synchronously inside `emit()`, but keeps its reply to itself. */
  let published: { channel: unknown; receivers: Promise<unknown> } | undefined;
  const lastPublished = (): typeof published => {
    const last = published;
    published = undefined;
    return last;
  };
  const pubHooks = new Map<PropertyKey, Hook>([
    ['sPublish', (call, [channel]) => (published = { channel, receivers: call() as Promise<unknown> }).receivers],
  ]);
  // The adapter drops the promises of these two: while Redis is away, each would be an unhandled rejection.
  const handled = (hook: Hook): Hook => (call, args) => {
    const result = hook(call, args);
    if (result instanceof Promise) result.catch(lost);
    return result;
  };
  const subHooks = new Map<PropertyKey, Hook>([
    ['sSubscribe', handled(subscriptions.subscribe)],
    ['sUnsubscribe', handled(subscriptions.unsubscribe)],
  ]);
  io.adapter(createShardedAdapter(hooked(pub, pubHooks), hooked(sub, subHooks), { subscriptionMode: 'dynamic', channelPrefix: CHANNEL_PREFIX }));
  logger.info({ redis: where }, 'joined the signaling cluster');

  return {
    async joined(room) {
      // Not worth a wait: the subscription is made again once Redis is back.
      if (!sub.isReady || !pub.isReady) throw new Error('Redis is unavailable');
      const channel = roomChannel(room);
      await within(subscriptions.active(channel), 'a subscription');
      const holders = await within(pub.pubSubShardNumSub(channel), 'PUBSUB SHARDNUMSUB');
      return (holders[channel] ?? 0) > 1;
    },
    replace(room, keep, event) {
      const others = io.to(room).except(keep);
      others.emit(event, {});
      others.disconnectSockets(true);
    },
    emit(room, event, payload) {
      published = undefined;
      io.to(room).emit(event, payload);
      const sent = lastPublished();
      if (sent?.channel !== roomChannel(room)) return Promise.reject(new Error(`the Redis adapter did not publish to ${roomChannel(room)}`));
      return within(sent.receivers, 'SPUBLISH').then((receivers) => Number(receivers) > 0);
    },
    close: quit,
  };
}

/** Sharded pub/sub came with Redis 7; an older one would fail every subscription, so refuse it at startup. */
async function requireShardedPubSub(pub: { pubSubShardNumSub(channel: string): Promise<unknown> }, where: string): Promise<void> {
  try {
    await pub.pubSubShardNumSub(roomChannel(''));
  } catch (err) {
    if (!(err instanceof ErrorReply)) throw err;
    throw new P2PError(
      'ERR_REDIS_UNAVAILABLE',
      `Redis at ${where} lacks sharded pub/sub (${(err as Error).message}); a signaling cluster needs Redis 7 or later`,
      { cause: err },
    );
  }
}
