/**
 * The signaling wire protocol shared by the server and the client (docs/protocol.md is its prose).
 * Validators here are the only place payload shapes are checked, so both sides agree by construction.
 */
import { isCanonicalBase64Url } from './base64url.js';
import { isNodeId } from './keys.js';

export const PROTOCOL_VERSION = 1;
/**
 * The revision of the signaling events a server speaks, announced in its `challenge` or
 * `registered` (absent: 1).
 * Revision 2: a `signal` is acknowledged only when the client asks, and one that fails unasked is
 * answered with a `signal-failed` event (docs/protocol.md §6). Envelopes are unchanged.
 */
export const PROTOCOL_REVISION = 2;

/** Prefix of the bytes a node signs to answer a registration challenge. */
export const REGISTER_CONTEXT = 'p2p-dht-node/register/v1\n';
/** Prefix of the bytes a node signs for every signaling envelope. */
export const SIGNAL_CONTEXT = 'p2p-dht-node/signal/v1\n';

/** Server → client events. */
export const ServerEvent = {
  challenge: 'challenge',
  signal: 'signal',
  replaced: 'replaced',
  notice: 'notice',
  /** Revision 2: the handshake's `auth` registered the connection. */
  registered: 'registered',
  /** Revision 2: a `signal` sent without an acknowledgement callback failed. */
  signalFailed: 'signal-failed',
} as const;

/** Client → server events (`register` takes an acknowledgement callback; `signal` may). */
export const ClientEvent = {
  register: 'register',
  signal: 'signal',
} as const;

export type ServerErrorCode =
  | 'ERR_BAD_REQUEST'
  | 'ERR_AUTH'
  | 'ERR_NOT_REGISTERED'
  | 'ERR_ALREADY_REGISTERED'
  | 'ERR_UNKNOWN_PEER'
  | 'ERR_RATE_LIMITED'
  | 'ERR_REGISTER_TIMEOUT'
  | 'ERR_UNKNOWN_EVENT'
  /** Clustered servers only: Redis is unreachable, so nodes on other servers cannot be reached for now. */
  | 'ERR_CLUSTER_UNAVAILABLE';

/**
 * Why the server refused a Socket.IO handshake (engine.io `allowRequest`). The refusal answers the
 * WebSocket upgrade with HTTP 400 and a text body starting with the code; no connection is made.
 */
export type HandshakeRefusalCode = 'ERR_TOO_MANY_CONNECTIONS' | 'ERR_HANDSHAKE_RATE_LIMITED';

export interface ProtocolError {
  code: ServerErrorCode;
  message: string;
}

export type Ack<T extends object = object> = ({ ok: true } & T) | { ok: false; error: ProtocolError };

/** Why the server is about to close this connection (`notice` event). */
export type NoticeMessage = ProtocolError;

/** A per-connection event budget: `burst` at once, `perSecond` sustained. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

/** What a server announces about itself, in its `challenge` or `registered`. */
export interface ServerTerms {
  /** The budget the server enforces on this connection, so clients can pace themselves below it. */
  rateLimit?: RateLimit;
  /** {@link PROTOCOL_REVISION} of the server; absent from revision 1 servers. */
  revision?: number;
}

export interface ChallengeMessage extends ServerTerms {
  v: number;
  nonce: string;
}

/** Revision 2: the connection registered with the proof in its handshake `auth` (docs/protocol.md §4). */
export type RegisteredMessage = { v: number } & ServerTerms & RegisterReply;

export interface RegisterRequest {
  publicKey: string;
  signature: string;
  /** The node runs the DHT: the server may introduce it to other nodes that join. */
  dht?: boolean;
}

/** Most DHT members a register ack introduces. */
export const MAX_INTRODUCED_PEERS = 8;

/** A TURN relay and the credentials to use it, as a signaling server hands them out on registration. */
export interface IceServerGrant {
  urls: string[];
  username: string;
  credential: string;
}

/** What a successful `register` ack carries besides `ok`. */
export interface RegisterReply {
  nodeId: string;
  /** TURN relays this node may use, with credentials issued for it; absent when the server has none. */
  iceServers?: IceServerGrant[];
  /** For a node that registered with `dht: true`: other DHT nodes registered here, to join through. */
  peers?: string[];
}

export type SignalKind = 'offer' | 'answer' | 'candidate' | 'reject' | 'restart' | 'hello';
export const SIGNAL_KINDS: readonly SignalKind[] = ['offer', 'answer', 'candidate', 'reject', 'restart', 'hello'];

/** A signaling message signed end to end by its sender; the server relays it untouched. */
export interface Envelope {
  v: number;
  from: string;
  key: string;
  to: string;
  session: string;
  seq: number;
  ts: number;
  kind: SignalKind;
  /** JSON text of the payload, signed as text so no canonical JSON form is needed. */
  data: string;
  sig: string;
}

export interface SignalRequest {
  to: string;
  envelope: Envelope;
}

/** Revision 2: why a `signal` sent without an acknowledgement callback was dropped. */
export interface SignalFailure {
  /** The request's `to` and `envelope.session`, when they were well formed. */
  to?: string;
  session?: string;
  error: ProtocolError;
}

export interface SignalDelivery {
  from: string;
  envelope: Envelope;
}

/** Largest `data` text an envelope may carry (an SDP with many candidates fits in well under this). */
export const MAX_ENVELOPE_DATA = 16 * 1024;

/**
 * Bounds on `iceServers` in a register ack: a few relays, each with a few URLs, is every real setup;
 * anything bigger comes from a server that should not be believed.
 */
export const MAX_ICE_SERVER_GRANTS = 4;
export const MAX_TURN_URLS = 8;
/** Longest TURN URL, username or credential (a REST API username is about 75 characters). */
export const MAX_ICE_FIELD_LENGTH = 256;

const SESSION = /^[A-Za-z0-9_-]{8,64}$/;
/** A session id: 8–64 characters of `[A-Za-z0-9_-]`. */
export const isSession = (value: unknown): value is string => typeof value === 'string' && SESSION.test(value);
/** RFC 7065 `turn:`/`turns:` URI: host (IP literal, IPv4 or name), optional port, optional transport. */
const TURN_URL = /^turns?:(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?(?:\?transport=(?:udp|tcp))?$/;

/** A plain object: not null, not an array. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Canonical unpadded base64url of exactly `bytes` bytes (see {@link isCanonicalBase64Url}). */
function isBase64Url(value: unknown, bytes: number): value is string {
  const chars = Math.ceil((bytes * 4) / 3);
  return isCanonicalBase64Url(value, chars, chars);
}

/** Raw 32-byte Ed25519 public key, base64url without padding. */
export const isPublicKey = (value: unknown): value is string => isBase64Url(value, 32);
/** Ed25519 signature (64 bytes), base64url without padding. */
export const isSignature = (value: unknown): value is string => isBase64Url(value, 64);

const isPositive = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value > 0;

export function isRateLimit(value: unknown): value is RateLimit {
  return isRecord(value) && isPositive(value.perSecond) && isPositive(value.burst);
}

function isServerTerms(value: Record<string, unknown>): boolean {
  return (
    value.v === PROTOCOL_VERSION &&
    (value.rateLimit === undefined || isRateLimit(value.rateLimit)) &&
    (value.revision === undefined || (Number.isSafeInteger(value.revision) && (value.revision as number) >= 1))
  );
}

export function isChallenge(value: unknown): value is ChallengeMessage {
  return isRecord(value) && isServerTerms(value) && isBase64Url(value.nonce, 32);
}

/** A `registered` event's terms; its `nodeId`, `iceServers` and `peers` are checked as a register ack's are. */
export function isRegistered(value: unknown): value is RegisteredMessage {
  return isRecord(value) && isServerTerms(value);
}

export function isNotice(value: unknown): value is NoticeMessage {
  return isRecord(value) && typeof value.code === 'string' && value.code.length <= 64 && typeof value.message === 'string';
}

/** A `signal-failed` payload; `to` and `session`, when present, name the signal that failed. */
export function isSignalFailure(value: unknown): value is SignalFailure {
  return (
    isRecord(value) &&
    (value.to === undefined || isNodeId(value.to)) &&
    (value.session === undefined || isSession(value.session)) &&
    isNotice(value.error)
  );
}

export function isRegisterRequest(value: unknown): value is RegisterRequest {
  return isRecord(value) && isPublicKey(value.publicKey) && isSignature(value.signature) && (value.dht === undefined || typeof value.dht === 'boolean');
}

/** The `peers` of a register ack, bounded so a hostile server cannot hand a node an unbounded list. */
export function isIntroducedPeers(value: unknown): value is string[] {
  return Array.isArray(value) && value.length <= MAX_INTRODUCED_PEERS && value.every(isNodeId);
}

/** A TURN URL libwebrtc will parse: it refuses the whole RTCPeerConnection over one bad entry (e.g. port 0). */
export function isTurnUrl(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > MAX_ICE_FIELD_LENGTH) return false;
  const match = TURN_URL.exec(value);
  if (!match) return false;
  const port = match[1];
  return port === undefined || (Number(port) >= 1 && Number(port) <= 65_535);
}

const isIceField = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= MAX_ICE_FIELD_LENGTH;

function isIceServerGrant(value: unknown): value is IceServerGrant {
  return (
    isRecord(value) &&
    Array.isArray(value.urls) &&
    value.urls.length > 0 &&
    value.urls.length <= MAX_TURN_URLS &&
    value.urls.every(isTurnUrl) &&
    isIceField(value.username) &&
    isIceField(value.credential)
  );
}

/** The `iceServers` of a register ack, bounded so a hostile server cannot hand a node an unbounded list. */
export function isIceServerGrants(value: unknown): value is IceServerGrant[] {
  return Array.isArray(value) && value.length <= MAX_ICE_SERVER_GRANTS && value.every(isIceServerGrant);
}

export function isEnvelope(value: unknown): value is Envelope {
  return (
    isRecord(value) &&
    value.v === PROTOCOL_VERSION &&
    isNodeId(value.from) &&
    isPublicKey(value.key) &&
    isNodeId(value.to) &&
    isSession(value.session) &&
    Number.isSafeInteger(value.seq) &&
    (value.seq as number) >= 0 &&
    Number.isSafeInteger(value.ts) &&
    SIGNAL_KINDS.includes(value.kind as SignalKind) &&
    typeof value.data === 'string' &&
    value.data.length <= MAX_ENVELOPE_DATA &&
    isSignature(value.sig)
  );
}

export function isSignalRequest(value: unknown): value is SignalRequest {
  return isRecord(value) && isNodeId(value.to) && isEnvelope(value.envelope);
}

export function isSignalDelivery(value: unknown): value is SignalDelivery {
  return isRecord(value) && isNodeId(value.from) && isEnvelope(value.envelope);
}

/** The bytes signed to answer a registration challenge. */
export function registerMessage(nonce: string): Uint8Array {
  return Buffer.from(REGISTER_CONTEXT + nonce, 'utf8');
}

/** The bytes signed for an envelope: every field but `sig`, in a fixed order. */
export function envelopeMessage(e: Omit<Envelope, 'sig'>): Uint8Array {
  return Buffer.from(
    SIGNAL_CONTEXT + JSON.stringify([e.v, e.from, e.key, e.to, e.session, e.seq, e.ts, e.kind, e.data]),
    'utf8',
  );
}
