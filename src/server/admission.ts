/**
 * Admission of new connections to the signaling server, per remote address, before any Socket.IO
 * state exists: a cap on open connections and a handshake rate.
 */
import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';
import type { Logger } from '../log.js';
import type { HandshakeRefusalCode } from '../wire/protocol.js';
import { KeyedBuckets } from './keyedBuckets.js';
import type { ServerCounters } from './serverMetrics.js';

export interface AdmissionLimits {
  /** Open connections per address. */
  maxConnections: number;
  /** New connections per address. */
  handshakes: { perSecond: number; burst: number };
  /** Released per-address budgets remembered until they refill, at most this many. */
  maxIdle: number;
}

/**
 * The key per-address limits count under: an IPv4 address, or the /64 prefix of an IPv6 address (one
 * host routinely holds a whole /64). IPv4-mapped IPv6 addresses (a dual-stack listener) count as IPv4.
 */
export function addressKey(address: string | undefined): string {
  if (address === undefined) return '';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const bare = address.split('%', 1)[0]!; // without a link-local zone (fe80::1%eth0)
  if (!isIPv6(bare)) return address;
  // The URL parser canonicalises (embedded IPv4 becomes hex groups), so only '::' is left to expand.
  const [head = '', tail = ''] = new URL(`http://[${bare}]`).hostname.slice(1, -1).split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/**
 * Admits new connections (engine.io `allowRequest`, before any Socket.IO state exists): a cap on open
 * connections and a handshake rate per remote address, so one host cannot exhaust the server by
 * opening sockets faster than the registration timeout closes them.
 */
export class Doorman {
  readonly #max: number;
  readonly #addresses: KeyedBuckets;
  readonly #counters: ServerCounters;
  readonly #logger: Logger;

  constructor(limits: AdmissionLimits, counters: ServerCounters, logger: Logger) {
    this.#max = limits.maxConnections;
    this.#addresses = new KeyedBuckets({ ...limits.handshakes, maxIdle: limits.maxIdle });
    this.#counters = counters;
    this.#logger = logger;
  }

  admit(req: IncomingMessage, callback: (message: string | null | undefined, success: boolean) => void): void {
    const { socket } = req;
    // Its 'close' already fired or never will: a slot counted for it would leak for good.
    if (socket.destroyed) {
      callback('connection closed', false);
      return;
    }
    const address = addressKey(socket.remoteAddress);
    const refusal = this.#refusal(address);
    if (refusal) {
      this.#counters.rejected[refusal.code]++;
      this.#logger.debug({ address, code: refusal.code }, 'handshake refused');
      callback(`${refusal.code}: ${refusal.message}`, false);
      return;
    }
    // WebSocket only, so the TCP connection is the Socket.IO connection: its 'close' frees the slot
    // however far the handshake gets.
    this.#addresses.hold(address);
    socket.once('close', () => this.#addresses.release(address));
    callback(null, true);
  }

  #refusal(address: string): { code: HandshakeRefusalCode; message: string } | undefined {
    // The cap first: a refused connection must not also spend the address's handshake budget.
    if (this.#addresses.holders(address) >= this.#max) {
      return { code: 'ERR_TOO_MANY_CONNECTIONS', message: `too many connections from this address (at most ${this.#max})` };
    }
    if (!this.#addresses.take(address)) {
      return { code: 'ERR_HANDSHAKE_RATE_LIMITED', message: 'too many new connections from this address; slow down' };
    }
    return undefined;
  }
}
