import { resolveLinkOptions } from '../data/linkOptions.js';
import { DEFAULT_UNREAD, type UnreadLimits } from '../data/dataPlane.js';
import type { HeartbeatOptions } from '../data/liveness.js';
import { P2PError, describeValue } from '../errors.js';
import { fileOptionsProblem } from '../files/fileTransfers.js';
import type { FileOptions } from '../files/types.js';
import type { Logger } from '../log.js';
import type { BackoffOptions } from '../machines/signaling.machine.js';
import { loadOrCreateIdentity } from '../services/identity.js';
import { generateIdentity } from '../wire/identity.js';
import type { IceServer } from '../services/webrtcTransport.js';
import { hasScheme } from '../url.js';
import type { CandidateFilter } from '../webrtc/candidates.js';
import { isNodeId, type Identity } from '../wire/keys.js';
import { brokerProblem, isMqttUrl } from '../wire/mqtt.js';
import { isRecord } from '../wire/protocol.js';
import { DEFAULT_RECONNECT, type ReconnectOptions } from './reconnector.js';
import { MAX_TOPIC_TTL_MS } from '../dht/records.js';

/** Every timeout of a node, in milliseconds. */
export interface NodeTimeouts {
  /** Socket.IO connection to the signaling server, per attempt. */
  signalingConnect: number;
  /** Registration (challenge → signed answer → ack), per attempt. */
  register: number;
  /** Initiator waits this long for the answer. */
  offer: number;
  /** Responder has this long to produce its answer. */
  answer: number;
  /** ICE + DTLS + data channel, after the SDP exchange. */
  ice: number;
  /** Reading and checking the DTLS certificate after connecting. */
  verify: number;
  /** Closing: for the peer to acknowledge every message sent (then ERR_FLUSH_TIMEOUT), or to close after its own end. */
  flush: number;
}

export const DEFAULT_TIMEOUTS: NodeTimeouts = {
  signalingConnect: 10_000,
  register: 10_000,
  offer: 15_000,
  answer: 10_000,
  ice: 20_000,
  verify: 5_000,
  flush: 10_000,
};

export interface NodeOptions {
  /**
   * Socket.IO signaling server, e.g. `http://127.0.0.1:8080`, or an MQTT broker, e.g.
   * `mqtt://broker:1883/my-app` (`mqtts://`, or `ws(s)://host/mqtt?prefix=my-app` over WebSocket;
   * docs/protocol.md §17), or several of either (at most {@link MAX_SIGNALING_URLS}): the node starts
   * with the first and moves to the next after each failed attempt or lost connection, with backoff.
   */
  signalingUrl: string | readonly string[];
  /**
   * Signal payloads (SDP, candidates, addresses) encrypted to their recipient (docs/protocol.md §16):
   * `'preferred'` (default) encrypts to every node that decrypts and talks plainly with nodes from
   * before encryption; `'required'` drops plain payloads and fails signals to nodes that do not
   * decrypt; `'off'` behaves as a node from before encryption. Through MQTT it is always required.
   */
  encryption?: 'preferred' | 'required' | 'off';
  /** STUN/TURN servers; none by default (host candidates only, enough on one LAN). */
  iceServers?: IceServer[];
  /** The node's key; by default a fresh one (the id changes every run). */
  identity?: Identity;
  /** Where to load, or on first use create, the node's key (PEM, mode 0600). */
  identityFile?: string;
  timeouts?: Partial<NodeTimeouts>;
  /** pino or any logger with the same methods; silent by default. */
  logger?: Logger;
  /** Where received files go and how large they may be (docs/protocol.md §18); see `sendFile` and `files$`. */
  files?: FileOptions;
  /** Most peers at once (default 200); wrtc aborts the process near 1,000 connections. */
  maxPeers?: number;
  /**
   * Most outgoing connection attempts negotiating at once (default 10); further `connectToNode`
   * calls wait their turn, in call order, and their timeouts start when they do. Until it connects,
   * a negotiation holds ~200 file descriptors (a connection ~20), so hundreds at once exhaust them.
   * Offers from other nodes are refused (`ERR_PEER_BUSY` on their side) while twice this many peers negotiate.
   */
  maxNegotiations?: number;
  /** Largest message `send` accepts and the receiver reassembles (default 64 MiB). */
  maxMessageSize?: number;
  /**
   * Liveness of open connections: a heartbeat after `intervalMs` without sending (default 1000), and a
   * peer silent for `missedBeats` intervals (default 4) closes with `peer-lost`.
   */
  heartbeat?: HeartbeatOptions;
  /**
   * Re-establish connections that were lost (`peer-lost`, or ICE failure or error once connected),
   * with backoff and jitter: `true` for the defaults (500 ms doubling to 10 s, 30% jitter, for at most
   * 60 s), or the settings. Off by default; the CLI turns it on.
   */
  reconnect?: boolean | ReconnectOptions;
  /** What `data$` keeps while nobody subscribes, replayed to the next subscriber (default 1000 messages, 16 MiB). */
  unread?: UnreadLimits;
  /** Which ICE candidates to use, e.g. {@link loopbackOnly}; all by default. */
  candidateFilter?: CandidateFilter;
  /** Reconnect backoff towards the signaling server (default 250 ms doubling to 30 s, 30% jitter). */
  backoff?: Partial<BackoffOptions>;
  /** Connection attempts before `start()` gives up on a server it never reached (default 3). */
  signalingAttempts?: number;
  /** Live state inspection; off by default. */
  inspect?: InspectOptions;
  /**
   * Run the DHT: `true` for the defaults, or the settings. The node then joins through peers the
   * signaling server introduces, and `join`, `lookup`, `discover$`, `put` and `get` work; connections
   * are signaled through the overlay when the server is away. Off by default.
   */
  dht?: boolean | NodeDhtOptions;
}

/** Settings of a node's DHT. */
export interface NodeDhtOptions {
  /** Contacts per k-bucket. Default 8. */
  k?: number;
  /** DHT connections at most (the application's own come on top, up to `maxPeers`). Default 64. */
  maxConnections?: number;
  /** Parallel paths per lookup. Default 4. */
  alpha?: number;
  /** Nodes that store each record. Default 8. */
  replication?: number;
  /** Fewer contacts than this is the `degraded` state. Default 4. */
  minContacts?: number;
  /** How long a topic announcement lives (announcements are refreshed at a third of it). Default 20 min. */
  topicTtlMs?: number;
  /** How often joined topics are looked up for `discover$`. Default 30 s. */
  discoverEveryMs?: number;
}

export const DEFAULT_NODE_DHT: Required<NodeDhtOptions> = {
  k: 8,
  maxConnections: 64,
  alpha: 4,
  replication: 8,
  minContacts: 4,
  topicTtlMs: 20 * 60_000,
  discoverEveryMs: 30_000,
};

/** The node's DHT settings with defaults filled in, or undefined when it runs none. */
export function dhtSettings(options: NodeOptions): Required<NodeDhtOptions> | undefined {
  if (!options.dht) return undefined;
  return { ...DEFAULT_NODE_DHT, ...(options.dht === true ? {} : options.dht) };
}

export interface InspectOptions {
  /** Serve the inspector page on 127.0.0.1 at this port (0 picks a free one); see `P2PNode.inspectorUrl`. */
  port?: number;
  /** Also stream to the online Stately Inspector (stately.ai), redacted; see `P2PNode.statelyUrl`. */
  stately?: boolean;
}

/** The node's key: the one given, the one in `identityFile`, or a fresh one. */
export function resolveIdentity(options: NodeOptions): Identity {
  if (options.identity && options.identityFile) {
    throw invalid('pass identity or identityFile, not both');
  }
  if (options.identity) return options.identity;
  return options.identityFile ? loadOrCreateIdentity(options.identityFile) : generateIdentity();
}

/** What a signaling URL may start with. */
export const SIGNALING_SCHEMES = ['http:', 'https:', 'ws:', 'wss:', 'mqtt:', 'mqtts:'];

/** Most signaling servers a node fails over between. */
export const MAX_SIGNALING_URLS = 16;

/** `signalingUrl` as a list. */
export function signalingUrls(signalingUrl: string | readonly string[]): string[] {
  return typeof signalingUrl === 'string' ? [signalingUrl] : [...signalingUrl];
}

/** Throws P2PError ERR_INVALID_OPTION for the first option that cannot work, whatever `options` is. */
export function validate(options: NodeOptions): void {
  if (!isRecord(options)) {
    throw invalid(`createNode needs an options object such as { signalingUrl: 'http://127.0.0.1:8080' }, got ${describeValue(options)}`);
  }
  const urls: unknown = options.signalingUrl;
  if (Array.isArray(urls) && (urls.length === 0 || urls.length > MAX_SIGNALING_URLS)) {
    throw invalid(`signalingUrl must list 1 to ${MAX_SIGNALING_URLS} servers, got ${urls.length}`);
  }
  for (const url of Array.isArray(urls) ? (urls as unknown[]) : [urls]) {
    if (!hasScheme(url, SIGNALING_SCHEMES)) throw invalid(`signalingUrl must be an http(s), ws(s) or mqtt(s) URL, got ${describeValue(url)}`);
    const broker = brokerProblem(url as string);
    if (broker) throw invalid(broker);
    if (options.encryption === 'off' && isMqttUrl(url as string)) throw invalid('signaling through an MQTT broker is always encrypted: drop encryption: \'off\'');
  }
  if (options.encryption !== undefined && !['preferred', 'required', 'off'].includes(options.encryption)) {
    throw invalid(`encryption must be 'preferred', 'required' or 'off', got ${describeValue(options.encryption)}`);
  }
  for (const name of ['timeouts', 'backoff', 'inspect', 'unread', 'heartbeat'] as const) {
    if (options[name] !== undefined && !isRecord(options[name])) throw invalid(`${name} must be an object, got ${describeValue(options[name])}`);
  }
  for (const [name, value] of Object.entries(options.timeouts ?? {})) {
    if (!(name in DEFAULT_TIMEOUTS) || typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw invalid(`timeouts.${name} must be a known timeout and a positive number of ms`);
    }
  }
  for (const name of ['maxPeers', 'maxNegotiations', 'maxMessageSize', 'signalingAttempts'] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) throw invalid(`${name} must be a positive integer`);
  }
  for (const [name, value] of Object.entries(options.unread ?? {})) {
    if (!(name in DEFAULT_UNREAD) || !(Number.isSafeInteger(value) && (value as number) >= 0)) {
      throw invalid(`unread.${name} must be messages or bytes, as an integer >= 0`);
    }
  }
  resolveLinkOptions({ maxMessageSize: options.maxMessageSize, heartbeat: options.heartbeat }); // the data plane's own bounds
  const { initialMs = 1, maxMs = Infinity, jitter = 0 } = options.backoff ?? {};
  if (!isBackoff({ initialMs, maxMs, jitter })) {
    throw invalid('backoff needs initialMs > 0, maxMs >= initialMs and jitter in [0, 1]');
  }
  if (options.iceServers !== undefined && !(Array.isArray(options.iceServers) && options.iceServers.every(isIceServer))) {
    throw invalid('iceServers must be an array of { urls, username?, credential? } with string URLs');
  }
  if (options.reconnect !== undefined && typeof options.reconnect !== 'boolean') validateReconnect(options.reconnect);
  const files = fileOptionsProblem(options.files);
  if (files) throw invalid(files);
  if (options.candidateFilter !== undefined && typeof options.candidateFilter !== 'function') {
    throw invalid('candidateFilter must be a function');
  }
  if (options.logger !== undefined && !isLogger(options.logger)) {
    throw invalid('logger must have debug, info, warn, error and child methods (pino has them)');
  }
  if (options.identity !== undefined && !isIdentity(options.identity)) {
    throw invalid('identity must be an Identity, e.g. from generateIdentity() or loadOrCreateIdentity()');
  }
  if (options.identityFile !== undefined && (typeof options.identityFile !== 'string' || options.identityFile === '')) {
    throw invalid(`identityFile must be a path, got ${describeValue(options.identityFile)}`);
  }
  const port = options.inspect?.port;
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
    throw invalid(`inspect.port must be an integer from 0 to 65535, got ${describeValue(port)}`);
  }
  if (options.inspect?.stately !== undefined && typeof options.inspect.stately !== 'boolean') {
    throw invalid('inspect.stately must be a boolean');
  }
  if (options.dht !== undefined && typeof options.dht !== 'boolean') validateDht(options.dht);
}

function validateDht(dht: unknown): void {
  if (!isRecord(dht)) throw invalid(`dht must be a boolean or an object, got ${describeValue(dht)}`);
  for (const [name, value] of Object.entries(dht)) {
    if (!(name in DEFAULT_NODE_DHT) || !(Number.isSafeInteger(value) && (value as number) > 0)) {
      throw invalid(`dht.${name} must be one of ${Object.keys(DEFAULT_NODE_DHT).join(', ')}, as a positive integer`);
    }
  }
  if ((dht.topicTtlMs as number) > MAX_TOPIC_TTL_MS) throw invalid(`dht.topicTtlMs must be at most ${MAX_TOPIC_TTL_MS}`);
}

function validateReconnect(reconnect: unknown): void {
  if (!isRecord(reconnect)) throw invalid(`reconnect must be a boolean or an object, got ${describeValue(reconnect)}`);
  const settings: Record<string, unknown> = { ...DEFAULT_RECONNECT, ...reconnect };
  const { budgetMs } = settings;
  if (!isBackoff(settings) || !Number.isFinite(settings.maxMs) || !(typeof budgetMs === 'number' && Number.isFinite(budgetMs) && budgetMs > 0)) {
    throw invalid('reconnect needs initialMs > 0, maxMs >= initialMs, jitter in [0, 1] and budgetMs > 0');
  }
}

/** Backoff settings that make sense: numbers, initialMs > 0, maxMs >= initialMs, jitter in [0, 1]. */
function isBackoff({ initialMs, maxMs, jitter }: Record<string, unknown>): boolean {
  if (typeof initialMs !== 'number' || typeof maxMs !== 'number' || typeof jitter !== 'number') return false;
  return initialMs > 0 && maxMs >= initialMs && jitter >= 0 && jitter <= 1;
}

function invalid(message: string): P2PError {
  return new P2PError('ERR_INVALID_OPTION', message);
}

function isIceServer(value: unknown): value is IceServer {
  if (!isRecord(value)) return false;
  const { urls, username, credential } = value;
  const validUrls = typeof urls === 'string' || (Array.isArray(urls) && urls.length > 0 && urls.every((u) => typeof u === 'string'));
  return validUrls && ['undefined', 'string'].includes(typeof username) && ['undefined', 'string'].includes(typeof credential);
}

function isLogger(value: unknown): value is Logger {
  return isRecord(value) && (['debug', 'info', 'warn', 'error', 'child'] as const).every((m) => typeof value[m] === 'function');
}

function isIdentity(value: unknown): value is Identity {
  return isRecord(value) && isNodeId(value.nodeId) && typeof value.publicKey === 'string' && typeof value.sign === 'function';
}
