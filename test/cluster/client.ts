/**
 * A bare signaling client (socket.io-client, no node machine): registers an identity on one server of
 * the cluster, signals by node id, and keeps every delivery it receives, so tests can count and time
 * single relays.
 */
import { io, type Socket } from 'socket.io-client';
import { generateIdentity } from '../../src/wire/identity.js';
import { Envelopes, newSessionId } from '../../src/wire/envelope.js';
import type { Identity } from '../../src/wire/keys.js';
import { registerMessage, type Ack, type ChallengeMessage, type SignalDelivery } from '../../src/wire/protocol.js';

const WAIT_MS = 5000;

export class Client {
  readonly received: SignalDelivery[] = [];
  readonly #envelopes: Envelopes;
  #onSignal: (() => void) | undefined;
  readonly #session = newSessionId();

  private constructor(
    readonly socket: Socket,
    readonly identity: Identity,
  ) {
    this.#envelopes = new Envelopes(identity);
    socket.on('signal', (delivery: SignalDelivery) => {
      this.received.push(delivery);
      this.#onSignal?.();
    });
  }

  get nodeId(): string {
    return this.identity.nodeId;
  }

  /** Connects to `url` and registers; resolves with the register ack, whatever it says. */
  static async register(url: string, identity = generateIdentity()): Promise<{ client: Client; ack: Ack }> {
    const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
    const challenge = await new Promise<ChallengeMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no challenge from ${url}`)), WAIT_MS);
      socket.once('challenge', (c: ChallengeMessage) => (clearTimeout(timer), resolve(c)));
    });
    const client = new Client(socket, identity);
    const signature = Buffer.from(identity.sign(registerMessage(challenge.nonce))).toString('base64url');
    const ack = (await socket.timeout(WAIT_MS).emitWithAck('register', { publicKey: identity.publicKey, signature })) as Ack;
    return { client, ack };
  }

  /** Registers, failing unless the server accepts. */
  static async on(url: string, identity = generateIdentity()): Promise<Client> {
    const { client, ack } = await Client.register(url, identity);
    if (!ack.ok) throw new Error(`register refused: ${ack.error.code}`);
    return client;
  }

  /** Signals `to` (an offer carrying `text`); resolves with the server's ack. */
  signal(to: string, text = 'hello'): Promise<Ack> {
    const envelope = this.#envelopes.seal(to, this.#session, { type: 'offer', sdp: text });
    return this.socket.timeout(WAIT_MS).emitWithAck('signal', { to, envelope }) as Promise<Ack>;
  }

  /** Resolves once `count` deliveries have arrived, rejects after 5 s. */
  receivedCount(count: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.received.length} of ${count} signals arrived`)), WAIT_MS);
      this.#onSignal = () => {
        if (this.received.length < count) return;
        clearTimeout(timer);
        resolve();
      };
      this.#onSignal();
    });
  }

  /** The `sdp` of each delivery so far, in order of arrival. */
  texts(): string[] {
    return this.received.map((d) => (JSON.parse(d.envelope.data) as { sdp: string }).sdp);
  }

  close(): void {
    this.socket.disconnect();
  }
}

export const errorCode = (ack: Ack): string | undefined => (ack.ok ? undefined : ack.error.code);
