/**
 * One request sent by this node over parallel paths, and what came back: the origin's side of a
 * recursive lookup.
 *
 * @module
 */
import { commonPrefixLength, compareDistance, keyOf } from './keyspace.js';
import type { RouteKind, RouteReply } from './messages.js';
import type { MutableRecord, TopicRecord } from './records.js';

/** What a lookup found, merged over the replies of every path. */
export interface LookupResult {
  /** The request id its messages carry. */
  rid: string;
  kind: RouteKind;
  target: string;
  /** Node ids closest to the target, closest first, at most k. */
  closest: string[];
  /**
   * For each id in `closest`, the nodes through which a signal reaches it: the path to the node that
   * reported it, which holds a link to it.
   */
  routes: Map<string, string[]>;
  /** Replies received (one per path that reached an answering node). */
  replies: number;
  /** Hops of each reply's path, in arrival order. */
  hops: number[];
  /** Hops of the path to the answering node closest to the target (the one a plain greedy route ends at). */
  hopsToClosest: number;
  /** Milliseconds from the request to the last reply counted. */
  durationMs: number;
  /** `find-topic`: every fresh announcement received, one per announcer (the newest). */
  topics: TopicRecord[];
  /** `get`: the record with the highest seq received. */
  record?: MutableRecord;
  /** `announce`, `put`: each answering node's store outcome. */
  outcomes: string[];
}

/**
 * The replies to one request. The first reply tells how far the answering nodes are, so the lookup
 * waits as long again for the other paths, then settles: a path through a node that drops requests
 * must not hold the answer up to the timeout.
 */
export class Lookup {
  readonly result: LookupResult;
  readonly #targetKey: Uint8Array;
  readonly #k: number;
  readonly #startedAt: number;
  /** Nodes the request was sent to first, one per path. */
  readonly firstHops = new Set<string>();
  /** Paths sent: a first hop may be sent the request again, and each time it takes another route. */
  paths = 0;
  /** First hops whose path ended with a plausible reply. */
  readonly answeredVia = new Set<string>();
  /** Replies from nodes plausibly closest to the target (see {@link reply}). */
  plausible = 0;
  /** Nodes that ended a path (they listed themselves first) with a reply that was not plausible. */
  readonly implausible = new Set<string>();
  #closest: { id: string; key: Uint8Array }[] = [];
  #closestResponder: Uint8Array | undefined;
  /** A `find` answered by the node whose id is the target: nothing can be closer. */
  #reached = false;

  /**
   * @param expectedPrefix bits a node closest to the target should share with it: the depth of our
   * own deepest bucket, which grows as log2 of the network's size.
   */
  constructor(
    rid: string,
    kind: RouteKind,
    target: string,
    k: number,
    startedAt: number,
    private readonly expectedPrefix: number,
  ) {
    this.#targetKey = keyOf(target);
    this.#k = k;
    this.#startedAt = startedAt;
    this.result = { rid, kind, target, closest: [], routes: new Map(), replies: 0, hops: [], hopsToClosest: 0, durationMs: 0, topics: [], outcomes: [] };
  }

  /** Whether every path has answered. */
  get complete(): boolean {
    return this.result.replies >= this.paths;
  }

  /** Merges node ids into `closest`; `via` leads to the node that reported them (empty: our own contacts). */
  offer(ids: readonly string[], via: readonly string[], reporter?: string): void {
    const closest = this.#closest;
    let changed = false;
    for (const id of ids) {
      if (closest.some((c) => c.id === id)) continue;
      // Insert in order, and only within the k closest: most ids offered are farther than all of these.
      const key = keyOf(id);
      let at = closest.length;
      while (at > 0 && compareDistance(key, closest[at - 1]!.key, this.#targetKey) < 0) at--;
      if (at >= this.#k) continue;
      closest.splice(at, 0, { id, key });
      this.result.routes.set(id, id === reporter ? [...via] : reporter === undefined ? [] : [...via, reporter]);
      if (closest.length > this.#k) this.result.routes.delete(closest.pop()!.id);
      changed = true;
    }
    if (changed) this.result.closest = closest.map((c) => c.id);
  }

  /** Adds topic records already verified by the caller, keeping each announcer's newest. */
  addTopics(records: readonly TopicRecord[]): void {
    for (const record of records) {
      const at = this.result.topics.findIndex((r) => r.key === record.key);
      if (at < 0) this.result.topics.push(record);
      else if (this.result.topics[at]!.ts < record.ts) this.result.topics[at] = record;
    }
  }

  /** Keeps the record with the highest seq (already verified by the caller). */
  addRecord(record: MutableRecord): void {
    if (!this.result.record || this.result.record.seq < record.seq) this.result.record = record;
  }

  /**
   * Counts a reply. A reply settles the lookup only if it comes from a node about as close to the
   * target as the closest node of a network our size would be: a node that answers at once in the
   * middle of a path, with wrong contacts, is far from the target and so does not cut the wait for
   * honest paths short.
   */
  reply(reply: RouteReply, now: number): void {
    this.result.replies++;
    this.result.hops.push(reply.path.length);
    const from = keyOf(reply.from);
    if (!this.#closestResponder || compareDistance(from, this.#closestResponder, this.#targetKey) < 0) {
      this.#closestResponder = from;
      this.result.hopsToClosest = reply.path.length;
    }
    this.result.durationMs = now - this.#startedAt;
    // The reply's path starts with us; the rest of it, then the responder, leads to what it reported.
    this.offer(reply.closest, reply.path.slice(1), reply.from);
    if (reply.outcome !== undefined) this.result.outcomes.push(reply.outcome);
    if (this.#plausible(reply, from)) {
      this.plausible++;
      this.answeredVia.add(reply.path[1] ?? reply.from);
    } else if (reply.closest[0] === reply.from) this.implausible.add(reply.from);
    if (this.result.kind === 'find' && reply.from === this.result.target) this.#reached = true;
  }

  /**
   * Whether a reply settles the lookup. Only a node that ended its path counts: one that answered
   * while forwarding (it lists a closer node first) answers sooner than the nodes further on, which
   * may know the closest node. It must be about as close to the target as a network our size puts
   * the closest node, and so must the next node it lists: an honest node there knows its
   * neighbours, while one that answers with made-up contacts lists nodes from anywhere.
   */
  #plausible(reply: RouteReply, from: Uint8Array): boolean {
    const near = this.expectedPrefix - 3;
    if (reply.closest[0] !== reply.from || commonPrefixLength(from, this.#targetKey) < near) return false;
    const next = reply.closest[1];
    return next === undefined || commonPrefixLength(keyOf(next), this.#targetKey) >= near - 1;
  }

  /**
   * Whether the lookup can end: every path answered, three plausible answers are in, or a `find`
   * reached the node it looks for. A route to a node is what connecting through the overlay waits
   * for; waiting for the other paths too cost every such connection 100 ms or more. A node on the
   * path could forge that node's answer, but only to send the offer down a dead end, which the
   * connect timeout reports: the offer and answer are signed end to end.
   */
  get settled(): boolean {
    return this.complete || this.plausible >= 3 || this.#reached;
  }

  /** Whether a reply came from where the answer should be: a plausible one, or the target itself. */
  get convincing(): boolean {
    return this.plausible > 0 || this.#reached;
  }

  /** Whether a request that asks for something (a store outcome, topic records, a record) got none of it. */
  get empty(): boolean {
    const { kind, outcomes, topics, record } = this.result;
    if (kind === 'announce' || kind === 'put') return outcomes.length === 0;
    if (kind === 'find-topic') return topics.length === 0;
    return kind === 'get' && record === undefined;
  }

  /** How long to wait for further paths once one plausible answer is in: as long as it took. */
  settleWait(now: number): number {
    return Math.max(100, 2 * (now - this.#startedAt));
  }
}
