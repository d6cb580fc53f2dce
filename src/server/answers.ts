/**
 * The pieces of client events and of the server's answers that the relay reads and writes: arguments,
 * refusals, `signal-failed` payloads and the envelope a delivery carries. Pure, apart from reading
 * a socket's Engine.IO id.
 */
import type { Socket } from 'socket.io';
import { isNodeId } from '../wire/keys.js';
import { isRecord, isSession, type Ack, type Envelope, type ProtocolError, type ServerErrorCode, type SignalFailure } from '../wire/protocol.js';

export type AckFn = (response: Ack) => void;

export function fail(code: ServerErrorCode, message: string): { ok: false; error: ProtocolError } {
  return { ok: false, error: { code, message } };
}

/** Splits Socket.IO event arguments into the payload and the ack callback (present only if the client asked). */
export function splitArgs(args: unknown[]): { payload: unknown; ack: AckFn | undefined } {
  const last = args[args.length - 1];
  const ack = typeof last === 'function' ? (last as AckFn) : undefined;
  return { payload: ack && args.length === 1 ? undefined : args[0], ack };
}

/** The Engine.IO session id (documented as `socket.id` in engine.io's README; its typings mark it private). */
export function engineId(socket: Socket): string {
  return (socket.conn as unknown as { readonly id: string }).id;
}

/** A `signal-failed` payload for `request`, naming its target and session if they are well formed. */
export function failureOf(request: unknown, error: ProtocolError): SignalFailure {
  const failure: SignalFailure = { error };
  if (!isRecord(request)) return failure;
  if (isNodeId(request.to)) failure.to = request.to;
  const session = isRecord(request.envelope) ? request.envelope.session : undefined;
  if (isSession(session)) failure.session = session;
  return failure;
}

/** Copies exactly the signed fields, so junk a client attached never reaches the receiver. */
export function copyEnvelope(e: Envelope): Envelope {
  const { v, from, key, to, session, seq, ts, kind, data, sig } = e;
  return { v, from, key, to, session, seq, ts, kind, data, sig };
}
