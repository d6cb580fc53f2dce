/**
 * The DHT engine wired to the node's IO: its messages travel as DHT records on the peers' data
 * channels, its connection requests and the signals it routes become supervisor events, and the
 * actor logic the DHT machine invokes connects the two for as long as it runs.
 */
import { fromCallback } from 'xstate';
import type { DataPlane } from '../data/dataPlane.js';
import { Dht } from '../dht/dht.js';
import { decodeDhtMessage, encodeDhtMessage } from '../dht/messages.js';
import type { DhtIo, DhtOptions } from '../dht/options.js';
import { SIGNAL_RESEND_MS } from '../dht/signals.js';
import type { Logger } from '../log.js';
import { unref } from '../timers.js';
import { randomBytes } from '../wire/crypto.js';
import type { Envelopes, SignalData, VerifiedSignal } from '../wire/envelope.js';
import { SignalOrder } from '../wire/signalOrder.js';
import { KeyGate } from './keyGate.js';
import { takeSignal } from './openSignal.js';

/**
 * How long signals that came ahead of a gap in their stream wait for it to fill: a second past the
 * origin's last copy of the missing one. After that they are handled, gap or not.
 */
const HOLD_MS = SIGNAL_RESEND_MS.reduce((sum, ms) => sum + ms, 1000);

/** What the overlay tells the machine that runs it. */
export type OverlayEvent =
  | { type: 'OVERLAY.JOINED' }
  /** A refresh round (lookups of our own id and of buckets with room) started, or ended. */
  | { type: 'OVERLAY.REFRESHING' }
  | { type: 'OVERLAY.REFRESHED' }
  /** The links or contacts changed. */
  | { type: 'OVERLAY.LINKS'; contacts: number; links: number }
  /** The DHT wants a connection, signaled through the overlay along `via`. */
  | { type: 'OVERLAY.CONNECT'; peerId: string; via: string[] }
  /** No link is left: the node should join again through peers the server introduces. */
  | { type: 'OVERLAY.BOOTSTRAP' }
  /** A verified signal that came through the overlay; answers go back along `via`. */
  | { type: 'SIGNAL.IN'; signal: VerifiedSignal; via: string[] }
  | { type: 'OVERLAY.SIGNAL_FAILED'; to: string; session: string };

/** What the overlay accepts. */
export type OverlayCommand =
  | { type: 'JOIN'; peers: string[] }
  | { type: 'SEND'; to: string; session: string; data: SignalData; via: string[] }
  | { type: 'CONNECT_FAILED'; peerId: string };

type OverlaySend = Extract<OverlayCommand, { type: 'SEND' }>;

export interface OverlayParts {
  nodeId: string;
  dataPlane: DataPlane;
  envelopes: Envelopes;
  logger: Logger;
  options: DhtOptions;
  /** The DHT no longer needs the link to `peerId`: close it unless the application uses it. */
  release(peerId: string): void;
  /** Whether the application uses the link to `peerId`. */
  inUse(peerId: string): boolean;
}

/**
 * A node's DHT engine and its IO. The node creates it (its API sends requests through {@link dht});
 * the overlay actor attaches to it while the DHT machine runs.
 *
 * @example
 * ```ts
 * const overlay = new Overlay({ nodeId, dataPlane, envelopes, logger, options: {}, release: (id) => closeUnlessUsed(id), inUse: (id) => used.has(id) });
 * overlay.dht.request('find-topic', topicKey('chat'), {}, (result) => console.log(result.topics));
 * ```
 */
export class Overlay {
  readonly dht: Dht;
  #sink: ((event: OverlayEvent) => void) | undefined;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #order = new SignalOrder<{ signal: VerifiedSignal; via: string[] }>({ perStream: 64, streams: 64 });
  /** Cancels the wait of each stream with signals held. */
  readonly #waits = new Map<string, () => void>();
  readonly #gate: KeyGate<OverlaySend>;

  constructor(private readonly parts: OverlayParts) {
    this.#gate = new KeyGate<OverlaySend>({
      envelopes: parts.envelopes,
      logger: parts.logger,
      helloTimeoutMs: HOLD_MS,
      sendHello: (to, hello, done, first) =>
        done(this.dht.routeSignal(to, hello, first?.via ?? []) ? undefined : { code: 'ERR_UNKNOWN_PEER', message: 'no link leads toward the node' }),
    });
    const io: DhtIo = {
      send: (peerId, message) => void parts.dataPlane.get(peerId)?.sendDht(encodeDhtMessage(message)),
      connect: (peerId, via) => this.#emit({ type: 'OVERLAY.CONNECT', peerId, via }),
      release: (peerId) => parts.release(peerId),
      inUse: (peerId) => parts.inUse(peerId),
      bootstrap: () => this.#emit({ type: 'OVERLAY.BOOTSTRAP' }),
      signal: (origin, envelope, via) => this.#signal(origin, envelope, via),
      now: () => Date.now(),
      setTimer: (ms, fn) => this.#setTimer(ms, fn),
      random: (n) => randomBytes(n),
    };
    this.dht = new Dht(parts.nodeId, io, parts.options);
    this.dht.onJoined = () => this.#emit({ type: 'OVERLAY.JOINED' });
    this.dht.onRefresh = (running) => this.#emit({ type: running ? 'OVERLAY.REFRESHING' : 'OVERLAY.REFRESHED' });
  }

  /** Routes the events of the engine to `sink` and the data plane's links to the engine, until the returned function runs. */
  attach(sink: (event: OverlayEvent) => void): () => void {
    this.#sink = sink;
    const { dht } = this;
    const links = () => sink({ type: 'OVERLAY.LINKS', contacts: dht.table.size, links: dht.links });
    const unwatch = this.parts.dataPlane.watch({
      attached: (peerId, address) => {
        dht.linkUp(peerId, address);
        links();
      },
      detached: (peerId) => {
        dht.linkDown(peerId);
        links();
      },
      dht: (peerId, payload) => {
        const message = decodeDhtMessage(payload);
        if (message) dht.receive(peerId, message);
        else this.parts.logger.debug({ peer: peerId, size: payload.length }, 'dropping malformed DHT record');
      },
    });
    return () => {
      unwatch();
      this.#sink = undefined;
      dht.stop();
      for (const timer of this.#timers) clearTimeout(timer);
      this.#timers.clear();
      this.#order.clear();
      this.#waits.clear();
      this.#gate.close();
    };
  }

  /**
   * Seals and routes one signal, once `to`'s encryption is settled (see {@link KeyGate}); `failed`
   * runs when no link leads toward `to`.
   */
  send(command: OverlaySend, failed: () => void): void {
    const { envelopes } = this.parts;
    this.#gate.send(
      command,
      (c) => this.dht.routeSignal(c.to, envelopes.seal(c.to, c.session, c.data), c.via) || failed(),
      () => failed(),
    );
  }

  /**
   * An envelope the overlay delivered. Its copies may come by other routes than the signals sent
   * after it (see `Signals`), so the ones that come ahead of a gap in their stream wait for it.
   */
  #signal(origin: string, envelope: unknown, via: string[]): void {
    const { envelopes } = this.parts;
    const verified = envelopes.verify(envelope);
    if (!verified.ok) return this.parts.logger.warn({ reason: verified.reason, from: origin }, 'dropping overlay signal');
    const { signal } = verified;
    const { from, session } = signal;
    const stream = `${from}/${session}`;
    if (signal.seq > envelopes.nextSeq(from, session)) {
      const held = this.#order.hold(stream, signal.seq, { signal, via });
      if (held === 'first') this.#waits.set(stream, this.#setTimer(HOLD_MS, () => this.#release(stream)));
      if (held !== 'full') return;
    }
    this.#take(signal, via);
    for (let next; (next = this.#order.take(stream, envelopes.nextSeq(from, session))); ) this.#take(next.signal, next.via);
    if (!this.#order.holds(stream)) {
      this.#waits.get(stream)?.();
      this.#waits.delete(stream);
    }
  }

  /** The gap in `stream` was not filled in time: what came after it is handled as it is. */
  #release(stream: string): void {
    this.#waits.delete(stream);
    for (const { signal, via } of this.#order.release(stream)) this.#take(signal, via);
  }

  #take(signal: VerifiedSignal, via: string[]): void {
    const { envelopes } = this.parts;
    const accepted = envelopes.accept(signal);
    if (!accepted.ok) return this.parts.logger.warn({ reason: accepted.reason, from: signal.from }, 'dropping overlay signal');
    // The envelope's sender is what counts; the route only says where answers go.
    if (takeSignal(signal, envelopes, this.#gate, (to, hello) => this.dht.routeSignal(to, hello, via))) this.#emit({ type: 'SIGNAL.IN', signal, via });
  }

  #emit(event: OverlayEvent): void {
    this.#sink?.(event);
  }

  #setTimer(ms: number, fn: () => void): () => void {
    const timer = unref(
      setTimeout(() => {
        this.#timers.delete(timer);
        fn();
      }, ms),
    );
    this.#timers.add(timer);
    return () => {
      clearTimeout(timer);
      this.#timers.delete(timer);
    };
  }
}

/** Actor logic that runs an {@link Overlay}: attaches it, and carries out its commands. */
export const overlayActor = fromCallback<OverlayCommand, { overlay: Overlay }, OverlayEvent>(({ input: { overlay }, sendBack, receive }) => {
  const detach = overlay.attach(sendBack);
  receive((command) => {
    if (command.type === 'JOIN') overlay.dht.join(command.peers);
    else if (command.type === 'CONNECT_FAILED') overlay.dht.connectFailed(command.peerId);
    else overlay.send(command, () => sendBack({ type: 'OVERLAY.SIGNAL_FAILED', to: command.to, session: command.session }));
  });
  return detach;
});
