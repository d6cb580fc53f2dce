import { resolveLinkOptions } from '../data/linkOptions.js';
import { P2PError } from '../errors.js';
import type { Logger } from '../log.js';
import type { BackoffOptions } from '../machines/signaling.machine.js';
import { generateIdentity, loadOrCreateIdentity } from '../services/identity.js';
import type { IceServer } from '../services/webrtcTransport.js';
import { hasScheme } from '../url.js';
import type { CandidateFilter } from '../webrtc/candidates.js';
import type { Identity } from '../wire/keys.js';

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
}

export const DEFAULT_TIMEOUTS: NodeTimeouts = {
  signalingConnect: 10_000,
  register: 10_000,
  offer: 15_000,
  answer: 10_000,
  ice: 20_000,
  verify: 5_000,
};

export interface NodeOptions {
  /**
   * Socket.IO signaling server, e.g. `http://127.0.0.1:8080`, or several servers of one cluster
   * (at most {@link MAX_SIGNALING_URLS}): the node starts with the first and moves to the next after
   * each failed attempt or lost connection, with backoff.
   */
  signalingUrl: string | readonly string[];
  /** STUN/TURN servers; none by default (host candidates only, enough on one LAN). */
  iceServers?: IceServer[];
  /** The node's key; by default a fresh one (the id changes every run). */
  identity?: Identity;
  /** Where to load, or on first use create, the node's key (PEM, mode 0600). */
  identityFile?: string;
  timeouts?: Partial<NodeTimeouts>;
  /** pino or any logger with the same methods; silent by default. */
  logger?: Logger;
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
  /** Which ICE candidates to use, e.g. {@link loopbackOnly}; all by default. */
  candidateFilter?: CandidateFilter;
  /** Reconnect backoff towards the signaling server (default 250 ms doubling to 30 s, 30% jitter). */
  backoff?: Partial<BackoffOptions>;
  /** Connection attempts before `start()` gives up on a server it never reached (default 3). */
  signalingAttempts?: number;
  /** Live state inspection; off by default. */
  inspect?: InspectOptions;
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
    throw new P2PError('ERR_INVALID_OPTION', 'pass identity or identityFile, not both');
  }
  if (options.identity) return options.identity;
  return options.identityFile ? loadOrCreateIdentity(options.identityFile) : generateIdentity();
}

/** What a signaling URL may start with. */
export const SIGNALING_SCHEMES = ['http:', 'https:', 'ws:', 'wss:'];

/** Most signaling servers a node fails over between. */
export const MAX_SIGNALING_URLS = 16;

/** `signalingUrl` as a list. */
export function signalingUrls(signalingUrl: string | readonly string[]): string[] {
  return typeof signalingUrl === 'string' ? [signalingUrl] : [...signalingUrl];
}

/** Throws P2PError ERR_INVALID_OPTION for the first option that cannot work. */
export function validate(options: NodeOptions): void {
  const urls: unknown = options.signalingUrl;
  if (Array.isArray(urls) && (urls.length === 0 || urls.length > MAX_SIGNALING_URLS)) {
    throw new P2PError('ERR_INVALID_OPTION', `signalingUrl must list 1 to ${MAX_SIGNALING_URLS} servers, got ${urls.length}`);
  }
  for (const url of Array.isArray(urls) ? (urls as unknown[]) : [urls]) {
    if (!hasScheme(url, SIGNALING_SCHEMES)) {
      throw new P2PError('ERR_INVALID_OPTION', `signalingUrl must be an http(s) or ws(s) URL, got ${JSON.stringify(url)?.slice(0, 200)}`);
    }
  }
  for (const [name, value] of Object.entries(options.timeouts ?? {})) {
    if (!(name in DEFAULT_TIMEOUTS) || !Number.isFinite(value) || value <= 0) {
      throw new P2PError('ERR_INVALID_OPTION', `timeouts.${name} must be a known timeout and a positive number of ms`);
    }
  }
  for (const name of ['maxPeers', 'maxNegotiations', 'maxMessageSize', 'signalingAttempts'] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
      throw new P2PError('ERR_INVALID_OPTION', `${name} must be a positive integer`);
    }
  }
  resolveLinkOptions({ maxMessageSize: options.maxMessageSize }); // the data plane's own bounds
  const { initialMs = 1, maxMs = Infinity, jitter = 0 } = options.backoff ?? {};
  if (!(initialMs > 0 && maxMs >= initialMs && jitter >= 0 && jitter <= 1)) {
    throw new P2PError('ERR_INVALID_OPTION', 'backoff needs initialMs > 0, maxMs >= initialMs and jitter in [0, 1]');
  }
  if (options.iceServers !== undefined && !(Array.isArray(options.iceServers) && options.iceServers.every((s) => s && s.urls))) {
    throw new P2PError('ERR_INVALID_OPTION', 'iceServers must be an array of { urls, username?, credential? }');
  }
  if (options.candidateFilter !== undefined && typeof options.candidateFilter !== 'function') {
    throw new P2PError('ERR_INVALID_OPTION', 'candidateFilter must be a function');
  }
  const port = options.inspect?.port;
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
    throw new P2PError('ERR_INVALID_OPTION', `inspect.port must be an integer from 0 to 65535, got ${JSON.stringify(port)}`);
  }
}
