import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { nodeIdOf } from '../../src/index.js';
import { Envelopes, type SignalData } from '../../src/wire/envelope.js';
import type { Identity } from '../../src/wire/keys.js';
import type { Envelope, ProtocolError } from '../../src/wire/protocol.js';

/** What the malicious server does with a relayed envelope: the envelopes to deliver instead (none drops it). */
export type Tamper = (envelope: Envelope, from: string, to: string) => Envelope[];

/** Fields the malicious server adds to each register ack, e.g. a malformed `iceServers`. */
export type AckExtras = () => Record<string, unknown>;

/**
 * A hostile signaling server written from docs/protocol.md: it registers anyone without checking
 * signatures, adds `ackExtras()` to every register ack, refuses the signals `refuse` answers for, and
 * passes every other envelope through `tamper` before delivering it.
 */
export async function maliciousServer(tamper: Tamper, ackExtras: AckExtras = () => ({}), refuse: (envelope: Envelope) => ProtocolError | undefined = () => undefined) {
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], serveClient: false });
  const sockets = new Map<string, Socket>();
  const seen: Envelope[] = [];
  io.on('connection', (socket) => {
    socket.emit('challenge', { v: 1, nonce: randomBytes(32).toString('base64url') });
    socket.on('register', (req: { publicKey: string }, ack: (r: unknown) => void) => {
      const nodeId = nodeIdOf(req.publicKey);
      sockets.set(nodeId, socket);
      socket.data.nodeId = nodeId;
      ack({ ...ackExtras(), ok: true, nodeId });
    });
    socket.on('signal', (req: { to: string; envelope: Envelope }, ack: (r: unknown) => void) => {
      const refusal = refuse(req.envelope);
      if (refusal) return ack({ ok: false, error: refusal });
      ack({ ok: true });
      seen.push(req.envelope);
      for (const envelope of tamper(req.envelope, socket.data.nodeId as string, req.to)) {
        sockets.get(req.to)?.emit('signal', { from: envelope.from, envelope });
      }
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    /** Delivers `envelope` to `to` as if it had been relayed. */
    inject: (to: string, envelope: Envelope) => sockets.get(to)?.emit('signal', { from: envelope.from, envelope }),
    /** Emits `payload` as a whole `signal` event, however malformed. */
    deliverRaw: (to: string, payload: unknown) => sockets.get(to)?.emit('signal', payload),
    close: () => new Promise<void>((resolve) => io.close(() => resolve())),
  };
}

/** What an envelope carries, read as its recipient (whose key is needed: payloads travel encrypted). */
export function payloadFor(recipient: Identity, envelope: Envelope): SignalData {
  const opened = new Envelopes(recipient).verify(envelope);
  if (!opened.ok) throw new Error(`cannot read the ${envelope.kind} as its recipient: ${opened.reason}`);
  return opened.signal.data;
}
