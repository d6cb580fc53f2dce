/**
 * The origin's side of recursive lookups: a request goes out over `alpha` paths at once, replies
 * are merged and checked, and a request that nobody plausible answered goes out once more over
 * other paths before it gives up.
 *
 * @module
 */
import { keyOf } from './keyspace.js';
import { Lookup, type LookupResult } from './lookup.js';
import { MAX_HOPS, type RouteKind, type RouteReply, type RouteRequest } from './messages.js';
import { announcerOf, checkMutableRecord, checkTopicRecord, mutableKey } from './records.js';
import type { Links } from './links.js';

/** What the requests of one node need from the engine around them. */
export interface RequestsContext {
  id: string;
  alpha: number;
  k: number;
  timeoutMs: number;
  links(): Links;
  /** The next hops already tried for a request id. */
  tried(rid: string): Set<string>;
  /** Our deepest bucket: how many bits a closest node shares with a key in a network our size. */
  depth(): number;
  send(peerId: string, request: RouteRequest): void;
  now(): number;
  setTimer(ms: number, fn: () => void): () => void;
  /** Adds what this node holds itself (it may be the closest node to the target). */
  addLocal(lookup: Lookup, request: RouteRequest): void;
}

/** The fields a request of each kind carries besides its target. */
export type RequestExtras = Pick<RouteRequest, 'topic' | 'record' | 'cas'>;

interface Pending {
  lookup: Lookup;
  /** What goes out on the next attempt. */
  request: RouteRequest;
  done: (result: LookupResult) => void;
  cancel: () => void;
  retried: boolean;
  settling: boolean;
}

/**
 * @example
 * ```ts
 * const requests = new Requests(context);
 * requests.start(rid, 'find', target, {}, (result) => console.log(result.closest));
 * requests.reply(reply); // for every reply whose path starts with us
 * ```
 */
export class Requests {
  readonly #pending = new Map<string, Pending>();

  constructor(private readonly context: RequestsContext) {}

  /** Sends a request and calls `done` exactly once, with whatever came back. */
  start(rid: string, kind: Exclude<RouteKind, 'signal'>, target: string, extras: RequestExtras, done: (result: LookupResult) => void): void {
    const { context } = this;
    const lookup = new Lookup(rid, kind, target, context.k, context.now(), context.depth());
    const request: RouteRequest = { t: 'req', rid, kind, target, path: [context.id], ...extras };
    lookup.offer([context.id], []);
    context.addLocal(lookup, request);
    const pending: Pending = { lookup, request, done, cancel: () => {}, retried: false, settling: false };
    this.#pending.set(rid, pending);
    if (!this.#sendPaths(pending)) return this.#finish(pending);
    pending.cancel = context.setTimer(context.timeoutMs, () => this.#timedOut(pending));
  }

  /** A reply to one of our requests. */
  reply(reply: RouteReply): void {
    const pending = this.#pending.get(reply.rid);
    if (!pending) return;
    const { lookup } = pending;
    const now = this.context.now();
    lookup.reply(reply, now);
    const { target } = lookup.result;
    lookup.addTopics((reply.topics ?? []).filter((r) => r.topic === target && checkTopicRecord(r, now) === 'ok'));
    const { record } = reply;
    if (record && checkMutableRecord(record) === 'ok' && mutableKey(announcerOf(record), record.name) === target) lookup.addRecord(record);
    if (lookup.settled) {
      // Every path answered, but only from far away and with nothing of what was asked: nodes that
      // answer at once with made-up contacts ended them, and nothing was stored or read near the
      // target. Other paths may get there. (A `find` has no such sign, and in a steady network paths
      // often end short of the closest node: retrying those cost 21–30% more messages per lookup in
      // the simulation.)
      if (!lookup.convincing && lookup.empty && this.#retry(pending)) return;
      return this.#finish(pending);
    }
    if (pending.settling || lookup.plausible === 0) return;
    pending.settling = true;
    pending.cancel();
    pending.cancel = this.context.setTimer(lookup.settleWait(now), () => this.#finish(pending));
  }

  /** Ends every request at once, with what it has. */
  stop(): void {
    for (const pending of [...this.#pending.values()]) this.#finish(pending);
  }

  #timedOut(pending: Pending): void {
    if (pending.lookup.plausible > 0 || !this.#retry(pending)) this.#finish(pending);
  }

  /**
   * Sends the request once more over links not tried yet, steering it clear of the nodes that ended
   * paths with answers from far away (nodes it passed try other next hops for it, too); false if it
   * was retried already or no link is left.
   */
  #retry(pending: Pending): boolean {
    if (pending.retried) return false;
    const avoid = [...pending.lookup.implausible].slice(0, MAX_HOPS);
    // A new object: copies of the first attempt may still be on their way.
    if (avoid.length > 0) pending.request = { ...pending.request, avoid };
    if (!this.#sendPaths(pending)) return false;
    pending.retried = true;
    pending.cancel();
    pending.cancel = this.context.setTimer(this.context.timeoutMs, () => this.#finish(pending));
    return true;
  }

  /**
   * Sends the request to the `alpha` closest links not tried yet and, on a retry, again to the first
   * hops whose paths brought no plausible reply: each node on such a path remembers where it sent
   * the request before and takes its next-best link, so the path goes round a node that dropped it.
   * False if it sent nothing.
   */
  #sendPaths(pending: Pending): boolean {
    const { request, lookup } = pending;
    const links = this.context.links();
    const tried = this.context.tried(request.rid);
    const avoided = (id: string) => request.avoid?.includes(id) === true;
    const again = [...lookup.firstHops].filter((id) => !lookup.answeredVia.has(id) && !avoided(id) && links.has(id));
    const hops = links.closest(keyOf(request.target), this.context.alpha, (id) => tried.has(id) || avoided(id)).map((c) => c.id);
    for (const hop of [...again, ...hops]) {
      tried.add(hop);
      lookup.firstHops.add(hop);
      lookup.paths++;
      this.context.send(hop, request);
    }
    return again.length + hops.length > 0;
  }

  #finish(pending: Pending): void {
    if (this.#pending.get(pending.request.rid) !== pending) return;
    this.#pending.delete(pending.request.rid);
    pending.cancel();
    pending.done(pending.lookup.result);
  }
}
