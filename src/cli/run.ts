/** The two long-running commands: a node (with or without an embedded signaling server) and a server alone. */
import { existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { P2PError } from '../errors.js';
import type { Logger } from '../log.js';
import { createNode, type P2PNode } from '../node/node.js';
import { createSignalingServer, type SignalingServer } from '../server/signalingServer.js';
import type { TurnRestOptions } from '../server/turnCredentials.js';
import { loopbackOnly } from '../webrtc/candidates.js';
import type { SignalCommand, StartCommand } from './args.js';
import { CliError } from './errors.js';
import { identitySlot, leaseIdentity, type IdentityLease } from './identityLease.js';
import { connectUnderTopics, joinTopic, startConsole } from './interactive.js';
import { watchTransfers, type TransferLog } from './transfers.js';
import { formatError, watchNode, type Print } from './output.js';

/** Fail fast when the server is not there: a CLI user wants to know within seconds, not retry for a minute. */
const SIGNALING_ATTEMPTS = 2;
const SIGNALING_CONNECT_MS = 3000;

/** Default identity files tried, `identity.pem` then `identity-2.pem` …, before giving up. */
const IDENTITY_SLOTS = 16;

/**
 * Takes the node's key for this process. With the default path, a second node on the same machine
 * moves on to the next slot instead of stealing the first one's id; a path the user named must be free.
 */
function leaseFor(command: StartCommand, print: Print): IdentityLease {
  const slots = command.identityChosen ? 1 : IDENTITY_SLOTS;
  for (let slot = 1; slot <= slots; slot++) {
    const path = identitySlot(command.identityFile, slot);
    const lease = leaseIdentity(path);
    if ('identity' in lease) {
      if (slot > 1) print(`* ${command.identityFile} is in use by another node here; using ${path}`);
      return lease;
    }
    if (command.identityChosen) throw new CliError(`identity file ${path} is in use by process ${lease.heldBy}`, 1);
  }
  throw new CliError(`all ${IDENTITY_SLOTS} identity files next to ${command.identityFile} are in use`, 1);
}

/** Resolves on the first SIGINT or SIGTERM, or when `request` is called. */
interface QuitSignal {
  readonly requested: Promise<void>;
  request(): void;
}

function quitSignal(): QuitSignal {
  let request = (): void => {};
  const requested = new Promise<void>((resolve) => (request = resolve));
  // `once`: a second Ctrl-C while a stop hangs gets the default handling and kills the process.
  process.once('SIGINT', request);
  process.once('SIGTERM', request);
  return { requested, request };
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::']);

function firstLanAddress(): string | undefined {
  const addresses = Object.values(networkInterfaces()).flat();
  return addresses.find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}

/** The URL other machines can use; a wildcard address is not one, so name a LAN address instead. */
function advertisedUrl(server: SignalingServer): string {
  if (!WILDCARD_HOSTS.has(server.host)) return server.url;
  return `http://${firstLanAddress() ?? '127.0.0.1'}:${server.port}`;
}

/** The URL the embedded node itself uses: loopback always reaches a server on this machine. */
function localUrl(server: SignalingServer): string {
  return WILDCARD_HOSTS.has(server.host) ? `http://127.0.0.1:${server.port}` : server.url;
}

/** The built web app (dist/web, next to this file's folder), or undefined when running from source unbuilt. */
function builtWebApp(): string | undefined {
  const dir = fileURLToPath(new URL('../web/', import.meta.url));
  return existsSync(join(dir, 'app.js')) ? dir : undefined;
}

async function listen(
  { host, port, turn, redis, webApp }: { host: string; port: number; turn: TurnRestOptions | undefined; redis?: string; webApp?: string | undefined },
  logger: Logger,
): Promise<SignalingServer> {
  try {
    return await createSignalingServer({ host, port, turn, redis, webApp, logger });
  } catch (err) {
    if (err instanceof P2PError && err.code === 'ERR_REDIS_UNAVAILABLE') throw new CliError(err.message, 1);
    throw new CliError(`cannot listen on ${host}:${port}: ${(err as Error).message}`, 1);
  }
}

function startupError(err: unknown, urls: string[]): unknown {
  if (!(err instanceof P2PError)) return err;
  // The node's message already names the server and the last failure.
  if (err.code === 'ERR_SIGNALING_UNREACHABLE') return new CliError(err.message, 1);
  if (err.code === 'ERR_SIGNALING_REJECTED') return new CliError(`cannot register with ${urls.join(', ')}: ${err.message}`, 1);
  return err;
}

/** Starts `node`; false when a quit was requested first (the node is then stopped). */
async function started(node: P2PNode, quit: QuitSignal, urls: string[]): Promise<boolean> {
  const starting = node.start();
  starting.catch(() => {}); // awaited below; once a quit wins the race, stop() makes it reject on purpose
  let ready: boolean;
  try {
    ready = await Promise.race([starting.then(() => true), quit.requested.then(() => false)]);
  } catch (err) {
    throw startupError(err, urls);
  }
  if (!ready) await node.stop();
  return ready;
}

/** Where the node registers, and the URL to tell others. */
interface Signaling {
  /** The embedded server, when the command line named none. */
  server: SignalingServer | undefined;
  urls: string[];
  /** What other nodes pass to --signal. */
  advertised: string;
  /** Where a browser opens the web app, if this process serves it. */
  web?: string;
}

async function signaling(command: StartCommand, logger: Logger): Promise<Signaling> {
  const given = command.signalingUrls;
  if (given !== undefined) return { server: undefined, urls: given, advertised: given.join(',') };
  const webApp = builtWebApp();
  const server = await listen({ ...command, webApp }, logger);
  const advertised = advertisedUrl(server);
  return { server, urls: [localUrl(server)], advertised, ...(webApp ? { web: `${advertised}/` } : {}) };
}

/** Runs a node until SIGINT, SIGTERM or `/quit`; resolves once everything is released. */
export async function runNode(command: StartCommand, logger: Logger, print: Print): Promise<void> {
  const quit = quitSignal();
  const lease = leaseFor(command, print);
  process.once('exit', lease.release);
  const { server, urls, advertised, web } = await signaling(command, logger).catch((err: unknown) => {
    lease.release();
    throw err;
  });
  try {
    const node = createNode({
      signalingUrl: urls,
      identity: lease.identity,
      iceServers: command.iceServers,
      candidateFilter: command.loopbackOnly ? loopbackOnly : undefined,
      logger,
      signalingAttempts: SIGNALING_ATTEMPTS,
      timeouts: { signalingConnect: SIGNALING_CONNECT_MS },
      reconnect: true,
      inspect: { port: command.inspectPort, stately: command.stately },
      dht: command.dht,
      files: command.acceptFiles === undefined ? undefined : { dir: command.acceptFiles },
    });
    // Subscribed before start so that nothing a fast peer sends is missed.
    const watching = watchNode(node, print);
    const transfers: TransferLog = new Map();
    watching.add(watchTransfers(node, print, transfers, command.acceptFiles !== undefined));
    try {
      if (await started(node, quit, urls)) await serve(node, command, quit, print, { advertised, web }, transfers);
    } finally {
      watching.unsubscribe();
    }
  } finally {
    await server?.close();
    lease.release();
  }
}

async function serve(node: P2PNode, { connect, join, acceptFiles }: StartCommand, quit: QuitSignal, print: Print, { advertised, web }: Pick<Signaling, 'advertised' | 'web'>, transfers: TransferLog): Promise<void> {
  print(`node id: ${node.nodeId}`);
  print(`signaling: ${advertised}`);
  if (web) print(`web app: ${web}`);
  if (node.inspectorUrl) print(`inspector: ${node.inspectorUrl}`);
  if (node.statelyUrl) print(`stately inspector: ${node.statelyUrl}`);
  if (acceptFiles !== undefined) print(`accepting files into: ${acceptFiles}`);
  const commands = startConsole({ node, print, quit: quit.request, seqs: new Map(), transfers }, process.stdin);
  for (const id of connect) node.connectToNode(id).catch((err: unknown) => print(`! ${formatError(err)}`));
  if (join.length > 0) connectUnderTopics(node, print);
  for (const topic of join) joinTopic(node, topic, print);
  await quit.requested;
  commands.close();
  await node.stop();
}

/** Runs a standalone signaling server until SIGINT or SIGTERM. */
export async function runSignal(command: SignalCommand, logger: Logger, print: Print): Promise<void> {
  const quit = quitSignal();
  const webApp = command.web ? builtWebApp() : undefined;
  if (command.web && !webApp) throw new CliError('--web: the web app is not built (run npm run build)', 1);
  const server = await listen({ ...command, webApp }, logger);
  print(`signaling: ${advertisedUrl(server)}`);
  if (webApp) print(`web app: ${advertisedUrl(server)}/`);
  await quit.requested;
  await server.close();
}
