/** What every carrier does with an incoming envelope before the node sees it. */
import type { Logger } from '../log.js';
import type { Envelopes, VerifiedSignal } from '../wire/envelope.js';
import type { Envelope } from '../wire/protocol.js';
import type { KeyGate } from './keyGate.js';

/**
 * Takes in a signal that passed {@link Envelopes.accept}: its sender's key may be what `gate` waits
 * for, and a hello is answered here (when it asks) and goes no further. True when the node should
 * see it.
 */
export function takeSignal(signal: VerifiedSignal, envelopes: Envelopes, gate: Pick<KeyGate<never>, 'heard'>, answer: (to: string, hello: Envelope) => void): boolean {
  gate.heard(signal.from);
  if (signal.data.type !== 'hello') return true;
  if (signal.data.reply) answer(signal.from, envelopes.hello(signal.from, false));
  return false;
}

/**
 * Opens an incoming envelope ({@link Envelopes.open}) and {@link takeSignal}s it: the signal for the
 * node, or undefined when it was dropped (logged with the reason) or was a hello.
 *
 * @example
 * ```ts
 * const signal = openSignal(envelopes, gate, delivery.envelope, log, (to, hello) => emit(to, hello));
 * if (signal) sendBack({ type: 'SOCKET.SIGNAL', signal });
 * ```
 */
export function openSignal(
  envelopes: Envelopes,
  gate: Pick<KeyGate<never>, 'heard'>,
  envelope: unknown,
  log: Logger,
  answer: (to: string, hello: Envelope) => void,
): VerifiedSignal | undefined {
  const opened = envelopes.open(envelope);
  if (!opened.ok) {
    const from = typeof envelope === 'object' && envelope !== null ? String((envelope as { from?: unknown }).from).slice(0, 64) : undefined;
    log.warn({ reason: opened.reason, from }, 'dropping signal');
    return undefined;
  }
  return takeSignal(opened.signal, envelopes, gate, answer) ? opened.signal : undefined;
}
