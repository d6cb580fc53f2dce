/**
 * Turns argv and the environment into a validated {@link Command}; everything the CLI can reject
 * before touching the network is rejected here, as a {@link CliError} with exit code 2.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { MAX_SIGNALING_URLS, SIGNALING_SCHEMES } from '../node/options.js';
import { REDIS_SCHEMES } from '../server/config.js';
import type { TurnRestOptions } from '../server/turnCredentials.js';
import { defaultIdentityPath } from '../services/identity.js';
import type { IceServer } from '../services/webrtcTransport.js';
import { iceServers, turnRest } from './iceArgs.js';
import { hasScheme } from '../url.js';
import { brokerProblem } from '../wire/mqtt.js';
import { isNodeId } from '../wire/keys.js';
import { MAX_TOPIC_NAME_BYTES, topicKey } from '../dht/records.js';
import { usageError } from './errors.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `p2p-node [start]`: run a node, with an embedded signaling server unless `signalingUrls` is set. */
export interface StartCommand {
  command: 'start';
  logLevel: LogLevel;
  /** The servers to register with, in failover order; undefined means start an embedded one on `host`:`port`. */
  signalingUrls: string[] | undefined;
  host: string;
  port: number;
  /** Node ids to connect to once registered. */
  connect: string[];
  /** Run the DHT (`--dht`, or implied by `--join`). */
  dht: boolean;
  /** Topics to join once registered, connecting to the nodes found under them. */
  join: string[];
  identityFile: string;
  /** Named by --identity or P2P_IDENTITY, rather than the default. */
  identityChosen: boolean;
  iceServers: IceServer[];
  /** A relay the embedded server issues credentials for (`--turn-secret`); then `iceServers` holds no TURN entry. */
  turn: TurnRestOptions | undefined;
  loopbackOnly: boolean;
  /** Serve the inspector page on 127.0.0.1 at this port. */
  inspectPort: number | undefined;
  /** Stream to the online Stately Inspector. */
  stately: boolean;
  /** `--accept-files DIR`: take every file peers offer into this folder. */
  acceptFiles: string | undefined;
}

/** `p2p-node signal`: a standalone signaling server. */
export interface SignalCommand {
  command: 'signal';
  logLevel: LogLevel;
  host: string;
  port: number;
  /** A relay whose credentials the server hands to every registered node (`--turn` + `--turn-secret`). */
  turn: TurnRestOptions | undefined;
  /** `--redis URL` (or P2P_REDIS): join the cluster of servers sharing this Redis. */
  redis: string | undefined;
  /** `--web`: serve the web app at `/`. */
  web: boolean;
}

/** `--help` or `--version` given to either command. */
export interface InfoCommand {
  command: 'help' | 'version';
  topic: 'start' | 'signal';
}

export type Command = StartCommand | SignalCommand | InfoCommand;

const COMMON = {
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  host: { type: 'string' },
  port: { type: 'string' },
} as const;

const TURN_REST = {
  turn: { type: 'string', multiple: true },
  'turn-secret': { type: 'string' },
} as const;

const SIGNAL_OPTIONS = { ...COMMON, ...TURN_REST, redis: { type: 'string' }, web: { type: 'boolean' } } as const;

const START_OPTIONS = {
  ...COMMON,
  ...TURN_REST,
  signal: { type: 'string' },
  connect: { type: 'string', multiple: true },
  dht: { type: 'boolean' },
  join: { type: 'string', multiple: true },
  identity: { type: 'string' },
  stun: { type: 'string', multiple: true },
  'stun-preset': { type: 'string' },
  'turn-user': { type: 'string' },
  'turn-pass': { type: 'string' },
  'loopback-only': { type: 'boolean' },
  inspect: { type: 'string' },
  stately: { type: 'boolean' },
  'accept-files': { type: 'string' },
} as const;

const EMBEDDED_HOST = '127.0.0.1';
const EMBEDDED_PORT = 0;
const STANDALONE_PORT = 8080;
export const INSPECT_PORT = 8088;

/**
 * Parses a command line (without the `node` and script arguments).
 *
 * @throws CliError with exit code 2 for anything that cannot be run as given.
 */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): Command {
  const [first, ...rest] = argv;
  if (first === 'signal') return parseSignal(rest, env);
  return parseStart(first === 'start' ? rest : argv, env);
}

function parseSignal(args: string[], env: NodeJS.ProcessEnv): Command {
  const { values } = parse(args, SIGNAL_OPTIONS);
  if (values.help) return { command: 'help', topic: 'signal' };
  if (values.version) return { command: 'version', topic: 'signal' };
  const turn = turnRest(values, env);
  // A server has no static credentials to hand out; P2P_TURN alone may be meant for the nodes.
  if (turn === undefined && values.turn !== undefined) throw usageError('--turn needs --turn-secret (or P2P_TURN_SECRET)');
  return {
    command: 'signal',
    logLevel: logLevel(values['log-level']),
    host: host(values.host),
    port: port(values.port, STANDALONE_PORT),
    turn,
    redis: redisUrl(values.redis ?? (env.P2P_REDIS || undefined)),
    web: values.web === true,
  };
}

function parseStart(args: string[], env: NodeJS.ProcessEnv): Command {
  const { values } = parse(withDefaultInspectPort(args), START_OPTIONS);
  if (values.help) return { command: 'help', topic: 'start' };
  if (values.version) return { command: 'version', topic: 'start' };
  const signalingUrl = values.signal ?? (env.SIGNALING_SERVER_URL || undefined);
  const signalingUrls = signalingUrl === undefined ? undefined : signalingUrlList(signalingUrl);
  if (signalingUrls !== undefined && (values.host !== undefined || values.port !== undefined)) {
    throw usageError('--host and --port configure the embedded signaling server; drop them when using --signal or SIGNALING_SERVER_URL');
  }
  if (signalingUrls !== undefined && values['turn-secret'] !== undefined) {
    throw usageError('--turn-secret configures the embedded signaling server; drop it when using --signal or SIGNALING_SERVER_URL');
  }
  const staticTurn = values['turn-user'] !== undefined || values['turn-pass'] !== undefined;
  if (staticTurn && values['turn-secret'] !== undefined) {
    throw usageError('--turn-secret issues TURN credentials; drop --turn-user and --turn-pass');
  }
  // Flags for static credentials win over a secret exported in the environment.
  const turn = signalingUrls === undefined && !staticTurn ? turnRest(values, env) : undefined;
  return {
    command: 'start',
    logLevel: logLevel(values['log-level']),
    signalingUrls,
    host: host(values.host ?? EMBEDDED_HOST),
    port: port(values.port, EMBEDDED_PORT),
    connect: (values.connect ?? []).map(nodeId),
    dht: (values.dht ?? false) || values.join !== undefined,
    join: (values.join ?? []).map(topic),
    identityFile: values.identity || env.P2P_IDENTITY || defaultIdentityPath(env),
    identityChosen: Boolean(values.identity || env.P2P_IDENTITY),
    iceServers: iceServers(values, env, turn),
    turn,
    loopbackOnly: values['loopback-only'] ?? false,
    inspectPort: values.inspect === undefined ? undefined : port(values.inspect, INSPECT_PORT, '--inspect'),
    stately: values.stately ?? false,
    acceptFiles: folder(values['accept-files']),
  };
}

function folder(value: string | undefined): string | undefined {
  if (value === '') throw usageError('--accept-files needs a folder');
  if (value !== undefined && !existsSync(value)) throw usageError(`--accept-files: no such folder ${JSON.stringify(value)}`);
  return value;
}

function topic(value: string): string {
  try {
    topicKey(value);
  } catch {
    throw usageError(`--join needs a topic of 1 to ${MAX_TOPIC_NAME_BYTES} bytes; got ${JSON.stringify(value)}`);
  }
  return value;
}

/** `--inspect [PORT]`: parseArgs has no optional values, so a bare `--inspect` gets the default port here. */
function withDefaultInspectPort(args: string[]): string[] {
  return args.map((arg, i) => (arg === '--inspect' && !/^\d+$/.test(args[i + 1] ?? '') ? `--inspect=${INSPECT_PORT}` : arg));
}

type Options = typeof SIGNAL_OPTIONS | typeof START_OPTIONS;

function parse<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (err) {
    // parseArgs explains itself in several sentences; the first one names the problem.
    const message = (err as Error).message.split(/\.(?:\s|$)/)[0]!;
    throw usageError(`${message} (see --help)`);
  }
}

function logLevel(value: string | undefined): LogLevel {
  if (value === undefined) return 'warn';
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  throw usageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}; got ${JSON.stringify(value)}`);
}

function host(value: string | undefined): string {
  if (value === '') throw usageError('--host must not be empty');
  return value ?? EMBEDDED_HOST;
}

function port(value: string | undefined, fallback: number, flag = '--port'): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw usageError(`${flag} must be 0-65535; got ${JSON.stringify(value)}`);
  return n;
}

function nodeId(value: string): string {
  if (!isNodeId(value)) throw usageError(`--connect needs a node id (64 lower-case hex digits); got ${JSON.stringify(value)}`);
  return value;
}

function redisUrl(value: string | undefined): string | undefined {
  if (value !== undefined && !hasScheme(value, REDIS_SCHEMES)) throw usageError('--redis must be a redis:// or rediss:// URL');
  return value;
}

/** `URL1,URL2,…`: the servers of one cluster, tried in order. */
function signalingUrlList(value: string): string[] {
  const urls = value.split(',').map((url) => url.trim());
  if (urls.length > MAX_SIGNALING_URLS) throw usageError(`at most ${MAX_SIGNALING_URLS} signaling URLs; got ${urls.length}`);
  for (const url of urls) {
    const problem = hasScheme(url, SIGNALING_SCHEMES) ? brokerProblem(url) : `signaling URL must be http(s)://, ws(s):// or mqtt(s)://; got ${JSON.stringify(url)}`;
    if (problem) throw usageError(problem);
  }
  return urls;
}
