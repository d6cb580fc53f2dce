/**
 * The Socket.IO client as a carrier session (see `signalingTransport`): the only file that imports
 * `socket.io-client`. One session is one connection attempt; reconnecting (with backoff) is the
 * signaling machine's job, so socket.io's own reconnection is off.
 */
import { io, type Socket } from 'socket.io-client';
import type { CallbackLogicFunction } from 'xstate';
import type { Logger } from '../log.js';
import { toBase64Url } from '../wire/base64url.js';
import type { Envelopes, SignalData, VerifiedSignal } from '../wire/envelope.js';
import type { Identity } from '../wire/keys.js';
import {
  ClientEvent,
  ServerEvent,
  isChallenge,
  isIceServerGrants,
  isIntroducedPeers,
  isNotice,
  isSignalDelivery,
  isSignalFailure,
  isRegistered,
  registerMessage,
  type Ack,
  type Envelope,
  type ProtocolError,
  type RegisterReply,
  type RegisterRequest,
  type ServerTerms,
} from '../wire/protocol.js';
import { ASK_INTERVAL_MS, AckWindow, askEvery } from './ackWindow.js';
import { KeyGate } from './keyGate.js';
import { openSignal } from './openSignal.js';
import { Pacer, paceWithin } from './pacer.js';
import type { IceServer } from './webrtcTransport.js';

export interface SocketInput {
  url: string;
  identity: Identity;
  envelopes: Envelopes;
  logger: Logger;
  /** Register as a DHT node (the ack then introduces others). */
  dht?: boolean;
}

/** Events a carrier session (Socket.IO or MQTT) sends to the signaling machine. */
export type SocketEvent =
  | { type: 'SOCKET.CONNECTED' }
  /** `iceServers`: TURN relays the server issued credentials for, if it sent any well-formed ones. */
  | { type: 'SOCKET.REGISTERED'; nodeId: string; iceServers?: IceServer[]; peers?: string[] }
  | { type: 'SOCKET.REJECTED'; error: ProtocolError }
  | { type: 'SOCKET.DISCONNECTED'; reason: string }
  | { type: 'SOCKET.SIGNAL'; signal: VerifiedSignal }
  | { type: 'SOCKET.SIGNAL_FAILED'; to: string; session: string; error: ProtocolError };

/** Events a carrier session accepts. */
export type SocketCommand = { type: 'SEND'; to: string; session: string; data: SignalData };
/** A connection to `to` is starting: settle its encryption before its first signal (see `KeyGate.prepare`). */
export type KeyPrepare = { type: 'PREPARE'; to: string };
/** Everything a carrier session accepts. */
export type CarrierCommand = SocketCommand | KeyPrepare;

function ackError(reply: unknown): ProtocolError | undefined {
  if (typeof reply !== 'object' || reply === null) {
    return { code: 'ERR_BAD_REQUEST', message: 'malformed acknowledgement' };
  }
  const ack = reply as Ack;
  if (ack.ok === true) return undefined;
  const error = (ack as { error?: ProtocolError }).error;
  return {
    code: error?.code ?? 'ERR_BAD_REQUEST',
    message: typeof error?.message === 'string' ? error.message : 'request failed',
  };
}

/** Acknowledgement wait; a server that never answers must not pin a callback forever. */
const ACK_TIMEOUT_MS = 10_000;
/** A hello's answer comes in one round trip through the server; a node from before encryption never answers. */
const HELLO_TIMEOUT_MS = 2_000;

/** Our pace towards a server that announces no budget. */
const DEFAULT_PACE = { perSecond: 20, burst: 40 };

type Done = () => void;

/** A `register` request, or the handshake `auth`, proving `input`'s key over `nonce`. */
function registerRequest(input: SocketInput, nonce: string): RegisterRequest {
  const signature = toBase64Url(input.identity.sign(registerMessage(nonce)));
  return { publicKey: input.identity.publicKey, signature, ...(input.dht ? { dht: true } : {}) };
}

function register(socket: Socket, input: SocketInput, nonce: string, sendBack: (e: SocketEvent) => void, done: Done): void {
  socket.timeout(ACK_TIMEOUT_MS).emit(ClientEvent.register, registerRequest(input, nonce), (err: Error | null, reply: unknown) => {
    done();
    if (err) return sendBack({ type: 'SOCKET.DISCONNECTED', reason: 'register acknowledgement timed out' });
    const error = ackError(reply);
    sendBack(error ? { type: 'SOCKET.REJECTED', error } : registered(reply as object, input));
  });
}

/** What a successful registration (a register ack, or the `registered` event) tells the machine. */
function registered(reply: object, input: SocketInput): SocketEvent {
  const { nodeId, iceServers, peers } = reply as Partial<Record<keyof RegisterReply, unknown>>;
  if (nodeId !== input.identity.nodeId) {
    // A server that names us differently is not speaking this protocol; do not trust it.
    return { type: 'SOCKET.REJECTED', error: { code: 'ERR_AUTH', message: 'server reported a different node id' } };
  }
  // A malformed introduction costs the node its bootstrap peers, never its registration.
  const introduced = isIntroducedPeers(peers) ? peers.filter((id) => id !== nodeId) : undefined;
  return { type: 'SOCKET.REGISTERED', nodeId, iceServers: grantedIceServers(iceServers, input.logger), peers: introduced };
}

/** The relays a register ack offers; a malformed offer costs the node its relay, never its registration. */
function grantedIceServers(value: unknown, log: Logger): IceServer[] | undefined {
  if (value === undefined || isIceServerGrants(value)) return value;
  // Not the value itself: it may hold credentials.
  log.warn({ iceServers: Array.isArray(value) ? `array of ${value.length}` : typeof value }, 'ignoring malformed iceServers in the register ack');
  return undefined;
}

/** Emits one envelope; `answered` gets the server's refusal, or, when it never answered, a timeout. */
function emitEnvelope(socket: Socket, to: string, envelope: Envelope, answered: (error: ProtocolError | undefined, timedOut: boolean) => void): void {
  socket.timeout(ACK_TIMEOUT_MS).emit(ClientEvent.signal, { to, envelope }, (err: Error | null, reply: unknown) => {
    answered(err ? { code: 'ERR_BAD_REQUEST', message: 'signal acknowledgement timed out' } : ackError(reply), err !== null);
  });
}

/**
 * One Socket.IO connection to a signaling server: registers on the server's challenge,
 * seals outgoing `SEND`s (encrypted once the target's key is known, see {@link KeyGate}) and reports
 * verified signals. Closes the socket when stopped.
 */
export const socketIoSession: CallbackLogicFunction<CarrierCommand, SocketEvent, SocketInput, SocketEvent> = ({ input, sendBack, receive }) => {
  const log = input.logger;
  const { envelopes } = input;
  const socket: Socket = io(input.url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 10_000,
    // Registration in the handshake (revision 2): the proof signs the Engine.IO session id, a nonce
    // the server just chose for this connection. A revision-1 server ignores it and sends a challenge.
    auth: (give) => give(registerRequest(input, socket.io.engine.id)),
  });
  const pacer = new Pacer(DEFAULT_PACE);
  // Every signal asks until the challenge shows a revision-2 server.
  const acks = new AckWindow(1, ASK_INTERVAL_MS);
  /**
   * Paced. A signal asks for an acknowledgement when `acks` says so or when `ask` (a hello, whose
   * refusal must come at once); `failed` hears an acknowledged refusal, and the others come as
   * `signal-failed`. A server that stays silent means a connection that only looks open.
   */
  const emit = (to: string, envelope: Envelope, failed?: (error: ProtocolError) => void, ask = false): void =>
    pacer.run((done) => {
      const settle = acks.add(done, Date.now(), ask);
      if (!settle) return void socket.emit(ClientEvent.signal, { to, envelope });
      emitEnvelope(socket, to, envelope, (error, timedOut) => {
        settle();
        if (error) failed?.(error);
        // A server acknowledges within milliseconds: silence means a connection that only looks open
        // (its path went away; TCP would resume at its next backed-off retransmission). A new
        // connection gets through as soon as the path is back.
        if (timedOut) sendBack({ type: 'SOCKET.DISCONNECTED', reason: 'signal acknowledgement timed out' });
      });
    });
  const gate = new KeyGate<SocketCommand>({ envelopes, logger: log, helloTimeoutMs: HELLO_TIMEOUT_MS, sendHello: (to, hello, answered) => emit(to, hello, answered, true) });
  const report = (to: string, session: string, error: ProtocolError): void => sendBack({ type: 'SOCKET.SIGNAL_FAILED', to, session, error });
  const failed = (command: SocketCommand, error: ProtocolError): void => report(command.to, command.session, error);
  const relay = (command: SocketCommand): void =>
    emit(command.to, envelopes.seal(command.to, command.session, command.data), (error) => failed(command, error));

  /** Paces within the budget a server announced, and asks for fewer acknowledgements from a revision-2 one. */
  const adopt = ({ rateLimit, revision }: ServerTerms): void => {
    if (rateLimit) pacer.retune(paceWithin(rateLimit));
    if ((revision ?? 1) >= 2) acks.retune(askEvery(pacer.maxInFlight));
  };

  socket.on('connect', () => sendBack({ type: 'SOCKET.CONNECTED' }));
  socket.on('connect_error', (err) => sendBack({ type: 'SOCKET.DISCONNECTED', reason: err.message }));
  socket.on('disconnect', (reason) => sendBack({ type: 'SOCKET.DISCONNECTED', reason }));
  socket.on(ServerEvent.challenge, (challenge: unknown) => {
    if (!isChallenge(challenge)) return log.warn({ challenge: typeof challenge }, 'ignoring malformed challenge');
    adopt(challenge);
    pacer.run((done) => register(socket, input, challenge.nonce, sendBack, done));
  });
  socket.on(ServerEvent.registered, (reply: unknown) => {
    if (!isRegistered(reply)) return log.warn({ reply: typeof reply }, 'ignoring malformed registered');
    adopt(reply);
    sendBack(registered(reply, input));
  });
  socket.on(ServerEvent.replaced, () => {
    sendBack({ type: 'SOCKET.REJECTED', error: { code: 'ERR_AUTH', message: 'another session registered this node id' } });
  });
  socket.on(ServerEvent.notice, (notice: unknown) => {
    if (isNotice(notice)) log.warn({ code: notice.code, reason: notice.message.slice(0, 200) }, 'signaling server is closing the connection');
  });
  socket.on(ServerEvent.signalFailed, (failure: unknown) => {
    if (!isSignalFailure(failure)) return log.warn({}, 'ignoring malformed signal-failed');
    const { to, session, error } = failure;
    if (to !== undefined && session !== undefined) return report(to, session, error as ProtocolError);
    log.warn({ code: error.code, reason: error.message.slice(0, 200) }, 'the server dropped a signal it could not name');
  });
  socket.on(ServerEvent.signal, (delivery: unknown) => {
    if (!isSignalDelivery(delivery)) return log.warn({}, 'dropping malformed signal delivery');
    const signal = openSignal(envelopes, gate, delivery.envelope, log, (to, hello) => emit(to, hello));
    if (signal) sendBack({ type: 'SOCKET.SIGNAL', signal });
  });

  receive((command) => (command.type === 'PREPARE' ? gate.prepare(command.to) : gate.send(command, relay, failed)));

  return () => {
    gate.close();
    pacer.close();
    socket.removeAllListeners();
    socket.disconnect();
  };
};
