/**
 * Holds a carrier's outgoing signals to a node until it is known whether that node decrypts, so no
 * payload leaves in the clear by accident (docs/protocol.md §16.3). A carrier finds out with a hello
 * round trip (our server, the overlay) or a lookup of its own (an MQTT broker's presence records).
 */
import type { Logger } from '../log.js';
import type { Envelopes } from '../wire/envelope.js';
import type { Envelope, ProtocolError } from '../wire/protocol.js';

/** How long a node found not to decrypt is taken at its word before it is asked again. */
const PLAIN_FOR_MS = 10 * 60_000;
const MAX_PLAIN = 1024;

export interface KeyGateParts<C> {
  envelopes: Envelopes;
  logger: Logger;
  /** Sends a hello that asks for a reply; `done` gets the carrier's refusal, if any. Used unless `lookup` is given. */
  sendHello?(to: string, envelope: Envelope, done: (error?: ProtocolError) => void, first: C | undefined): void;
  /** Learns `to`'s key into `envelopes.keys` another way, then calls `done` (with why not, if it could not). */
  lookup?(to: string, done: (error?: ProtocolError) => void): void;
  /** Wait for the hello's reply; a node that stays silent is taken not to decrypt (a node from before encryption drops hellos). */
  helloTimeoutMs: number;
  now?: () => number;
}

interface Pending<C> {
  queue: { command: C; go: (command: C) => void; fail: (command: C, error: ProtocolError) => void }[];
  timer?: NodeJS.Timeout;
}

/**
 * Per target node: signals pass at once when it is known to decrypt (or known not to, where plain
 * payloads are allowed); otherwise they wait, in order, for the answer.
 *
 * @example
 * ```ts
 * const gate = new KeyGate({ envelopes, logger, helloTimeoutMs: 2000, sendHello: (to, hello, done) => emit(to, hello, done) });
 * gate.send(command, (c) => emit(c.to, envelopes.seal(c.to, c.session, c.data)), (c, error) => report(c, error));
 * // for every verified envelope that comes in:
 * gate.heard(signal.from);
 * ```
 */
export class KeyGate<C extends { to: string }> {
  readonly #pending = new Map<string, Pending<C>>();
  /** Nodes that did not answer a hello, until when. */
  readonly #plain = new Map<string, number>();
  readonly #now: () => number;

  constructor(private readonly parts: KeyGateParts<C>) {
    this.#now = parts.now ?? Date.now;
  }

  /** Passes `command` to `go` once its target's encryption is settled, or to `fail` if it cannot be. */
  send(command: C, go: (command: C) => void, fail: (command: C, error: ProtocolError) => void): void {
    const { to } = command;
    const pending = this.#pending.get(to);
    if (pending) return void pending.queue.push({ command, go, fail });
    if (this.#settled(to)) return go(command);
    this.#pending.set(to, { queue: [{ command, go, fail }] });
    this.#resolve(to);
  }

  /** Starts finding out whether `to` decrypts, ahead of its first signal (which then waits less, or not at all). */
  prepare(to: string): void {
    if (this.#pending.has(to) || this.#settled(to)) return;
    this.#pending.set(to, { queue: [] });
    this.#resolve(to);
  }

  /** A verified envelope from `from` came in: it may be the answer a queue waits for. */
  heard(from: string): void {
    if (this.#pending.has(from) && this.parts.envelopes.encryptsTo(from)) this.#settle(from, undefined);
  }

  /** Fails nothing and forgets everything: the carrier is gone, and its queued signals with it. */
  close(): void {
    for (const pending of this.#pending.values()) clearTimeout(pending.timer);
    this.#pending.clear();
  }

  #settled(to: string): boolean {
    const { envelopes } = this.parts;
    if (!envelopes.e2e || envelopes.encryptsTo(to)) return true;
    const until = this.#plain.get(to);
    if (until !== undefined && until > this.#now()) return true;
    this.#plain.delete(to);
    return false;
  }

  #resolve(to: string): void {
    const { parts } = this;
    const answered = (error?: ProtocolError): void => this.#settle(to, error);
    if (parts.lookup) return parts.lookup(to, answered);
    const pending = this.#pending.get(to)!;
    pending.timer = setTimeout(() => this.#settle(to, 'silent'), parts.helloTimeoutMs);
    const hello = parts.envelopes.hello(to, true);
    parts.sendHello!(to, hello, (error) => {
      // A server from before encryption refuses the kind: nobody behind it can be asked.
      if (error) this.#settle(to, error.code === 'ERR_BAD_REQUEST' ? 'silent' : error);
    }, pending.queue[0]?.command);
  }

  /** Ends `to`'s wait: undefined when its key is known, 'silent' when it is taken not to decrypt. */
  #settle(to: string, outcome: ProtocolError | 'silent' | undefined): void {
    const pending = this.#pending.get(to);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.#pending.delete(to);
    const { envelopes, logger } = this.parts;
    let error = outcome === 'silent' ? undefined : outcome;
    if (!error && !envelopes.encryptsTo(to)) {
      // A carrier with lookups carries only encrypting nodes; a silent one is simply not there.
      if (envelopes.requireEncryption || this.parts.lookup) error = { code: 'ERR_UNKNOWN_PEER', message: 'the node did not show a key it decrypts with' };
      else {
        logger.info({ peer: to }, 'the node does not decrypt: its signals go unencrypted');
        this.#plain.set(to, this.#now() + PLAIN_FOR_MS);
        if (this.#plain.size > MAX_PLAIN) this.#plain.delete(this.#plain.keys().next().value as string);
      }
    }
    for (const { command, go, fail } of pending.queue) {
      if (error) fail(command, error);
      else go(command);
    }
  }
}
