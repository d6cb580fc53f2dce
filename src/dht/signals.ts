/**
 * Signaling envelopes through the overlay (docs/protocol.md §14.4): each travels one path toward
 * the node whose id is its target, which hands it to its signaling once and acknowledges every copy.
 * The origin sends a copy again, with the same `rid`, until one is acknowledged: links come and go
 * as tables change, and a link that closes under a signal takes it with it, so without this one
 * lost offer or answer cost the whole connection attempt its full timeout.
 *
 * @module
 */
import { keyOf } from './keyspace.js';
import type { Links } from './links.js';
import { MAX_HOPS, type DhtMessage, type RouteReply, type RouteRequest } from './messages.js';
import { wasTried, type SeenRequests, type Tried } from './seen.js';

/**
 * How long the origin waits for an acknowledgement before each copy it sends again: 1 s (an overlay
 * route takes tens of ms, and a few hundred on a loaded machine), then twice as long each time.
 */
export const SIGNAL_RESEND_MS: readonly number[] = [1000, 2000, 4000];

/** What {@link Signals} counts, in the engine's counters. */
export interface SignalCounters {
  forwarded: number;
  signalsDelivered: number;
  signalsResent: number;
  dropped: Record<'hops' | 'unroutable', number>;
}

export interface SignalsContext {
  id: string;
  selfKey: Uint8Array;
  links(): Links;
  /** Requests seen lately: a signal's `rid` there means delivered (at its target) or the hops tried (elsewhere). */
  seen: SeenRequests;
  counters: SignalCounters;
  send(peerId: string, message: DhtMessage): void;
  /** Hands an envelope addressed to us to the node's signaling, with the route back to `origin`. */
  deliver(origin: string, envelope: unknown, via: string[]): void;
  setTimer(ms: number, fn: () => void): () => void;
}

/** A signal this node sent and no acknowledgement of which has come yet. */
interface Unacked {
  request: RouteRequest;
  /** Links it was sent over: a copy takes one it has not taken yet, where there is one. */
  firstHops: Set<string>;
  sends: number;
  cancel: () => void;
}

/**
 * @example
 * ```ts
 * const signals = new Signals(context);
 * signals.send(rid, peerId, envelope, via); // false: no link leads toward peerId
 * signals.receive(request);                 // a `signal` request that arrived over a link
 * if (!signals.acked(reply)) requests.reply(reply);
 * ```
 */
export class Signals {
  readonly #unacked = new Map<string, Unacked>();

  constructor(private readonly context: SignalsContext) {}

  /** Sends `envelope` toward node `target`, along `via` first; false when no link leads on. */
  send(rid: string, target: string, envelope: unknown, via: readonly string[]): boolean {
    const request: RouteRequest = { t: 'req', rid, kind: 'signal', target, path: [this.context.id], envelope };
    if (via.length > 0) request.via = via.slice(0, MAX_HOPS);
    const next = this.#hop(request, undefined);
    if (next === undefined) return false;
    this.context.send(next, request);
    const unacked: Unacked = { request, firstHops: new Set([next]), sends: 1, cancel: () => {} };
    this.#unacked.set(rid, unacked);
    this.#wait(unacked);
    return true;
  }

  /** Whether {@link send} finds a first hop toward `target` with no `via`: it is linked, or a link is closer to it than we are. */
  leadsTo(target: string): boolean {
    return this.#hop({ t: 'req', rid: '', kind: 'signal', target, path: [this.context.id] }, undefined) !== undefined;
  }

  /** Takes `reply` if it acknowledges a signal of ours (true), whoever it came from. */
  acked(reply: RouteReply): boolean {
    const unacked = this.#unacked.get(reply.rid);
    if (!unacked) return false;
    // Only the target acknowledges: a node on the way that drops the signal cannot also silence it.
    if (reply.from === unacked.request.target) {
      unacked.cancel();
      this.#unacked.delete(reply.rid);
    }
    return true;
  }

  /** A `signal` request whose path checked out: delivers and acknowledges it here, or passes it on. */
  receive(request: RouteRequest): void {
    const { context } = this;
    const { path, rid } = request;
    if (request.target === context.id) {
      // A copy of one delivered already (its acknowledgement was lost, or is late) is only acknowledged.
      if (!context.seen.has(rid)) {
        context.seen.sight(rid);
        context.counters.signalsDelivered++;
        context.deliver(path[0]!, request.envelope, path.slice(1).reverse());
      }
      const ack: RouteReply = { t: 'res', rid, path, from: context.id, closest: [context.id] };
      return context.send(path[path.length - 1]!, ack);
    }
    const next = this.#hop(request, context.seen.sight(rid));
    if (next === undefined || path.length >= MAX_HOPS) {
      context.counters.dropped[next === undefined ? 'unroutable' : 'hops']++;
      return;
    }
    context.seen.addTried(rid, next);
    context.counters.forwarded++;
    context.send(next, { ...request, path: [...path, context.id] });
  }

  stop(): void {
    for (const unacked of this.#unacked.values()) unacked.cancel();
    this.#unacked.clear();
  }

  #wait(unacked: Unacked): void {
    const ms = SIGNAL_RESEND_MS[unacked.sends - 1];
    if (ms === undefined) {
      // Given up: the connection attempt that sent it ends at its own timeout.
      this.#unacked.delete(unacked.request.rid);
      return;
    }
    unacked.cancel = this.context.setTimer(ms, () => {
      const next = this.#hop(unacked.request, unacked.firstHops);
      if (next === undefined) return void this.#unacked.delete(unacked.request.rid);
      unacked.firstHops.add(next);
      unacked.sends++;
      this.context.counters.signalsResent++;
      this.context.send(next, unacked.request);
      this.#wait(unacked);
    });
  }

  /**
   * Where a signal goes next: to the target if linked, else to the last node of `via` after us that
   * we are linked to, else to the linked node closest to the target. Links this `rid` was given
   * already (`tried`: it came again, so that way failed) come last, taken only when nothing else leads on.
   */
  #hop(request: RouteRequest, tried: Tried): string | undefined {
    const { id, selfKey } = this.context;
    const links = this.context.links();
    if (links.has(request.target)) return request.target;
    const via = request.via ?? [];
    let triedVia: string | undefined;
    for (let i = via.length - 1; i > via.indexOf(id); i--) {
      const hop = via[i]!;
      if (!links.has(hop)) continue;
      if (!wasTried(tried, hop)) return hop;
      triedVia ??= hop;
    }
    const targetKey = keyOf(request.target);
    const { path } = request;
    const greedy = links.nextHop(selfKey, targetKey, (hop) => path.includes(hop) || wasTried(tried, hop));
    if (greedy) return greedy.id;
    return triedVia ?? (tried === undefined ? undefined : links.nextHop(selfKey, targetKey, (hop) => path.includes(hop))?.id);
  }
}
