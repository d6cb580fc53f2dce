/**
 * Opt-in: streams the node's inspection events to the Stately Inspector (stately.ai, hosted online)
 * through `@statelyai/inspect`, the XState v5 successor of `@xstate/inspect`.
 *
 * It does what `createSkyInspector` does, with two differences that matter for a node: the socket is
 * ours, so {@link StatelyInspector.stop} closes it (the library's keeps reconnecting and holds the
 * process open), and contexts and events are redacted, because they hold the node's private key,
 * SDPs and candidate addresses. A lost connection is logged, not retried: this is a debugging aid.
 */
import { randomUUID } from 'node:crypto';
import { createInspector } from '@statelyai/inspect';
import type { AnyEventObject, InspectionEvent, MachineContext } from 'xstate';
import WebSocket from 'ws';
import type { Logger } from '../log.js';

/** Where `createSkyInspector` (@statelyai/inspect 0.7) relays sessions, and where they are viewed. */
const SKY_ROOMS = 'wss://stately-sky-beta.mellson.partykit.dev/party';
const SKY_VIEWER = 'https://stately.ai/registry/inspect';
/** Events kept while the socket opens, as the library's own adapters do (oldest dropped). */
const MAX_DEFERRED = 200;

/** The part of a WebSocket this sink uses. */
export type SkySocket = Pick<WebSocket, 'send' | 'close' | 'on' | 'readyState'>;

export interface StatelyInspector {
  /** The page that shows this node's actors live. */
  readonly url: string;
  inspect(event: InspectionEvent): void;
  stop(): void;
}

/** The parts of a context safe to publish: ids, roles, states and outcomes; never keys, SDPs or handles. */
const PUBLIC_CONTEXT = ['localId', 'remoteId', 'role', 'session', 'reason', 'detail', 'route', 'attempt', 'registered', 'urls', 'server', 'maxPeers', 'maxNegotiating'];
/** The parts of an event safe to publish. */
const PUBLIC_EVENT = ['type', 'peerId', 'to', 'session', 'nodeId', 'reason', 'actorId'];

function pick(source: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((key) => source[key] !== undefined).map((key) => [key, source[key]]));
}

/** A context as it may leave the machine: peers as their ids, everything secret dropped. */
export function redactContext(context: MachineContext): MachineContext {
  if (!context) return context; // callback actors have none
  const safe = pick(context, PUBLIC_CONTEXT);
  if (context.peers && typeof context.peers === 'object') safe.peers = Object.keys(context.peers);
  return safe;
}

/** An event as it may leave the machine: a signal shows its sender and kind, not its SDP or candidate. */
export function redactEvent(event: AnyEventObject): AnyEventObject {
  const safe = pick(event, PUBLIC_EVENT) as AnyEventObject;
  const signal = event.signal as { from?: string; kind?: string } | undefined;
  if (signal) safe.signal = { from: signal.from, kind: signal.kind };
  return safe;
}

/**
 * Connects to the Stately Inspector; the returned `url` shows the session.
 *
 * @example
 * ```ts
 * const stately = startStatelyInspector(logger);
 * createActor(machine, { inspect: stately.inspect }).start();
 * console.log('inspect at', stately.url);
 * ```
 */
export function startStatelyInspector(
  logger: Logger,
  connect: (url: string) => SkySocket = (url) => new WebSocket(url),
): StatelyInspector {
  const session = randomUUID();
  const socket = connect(`${SKY_ROOMS}/inspect-${session}`);
  const deferred: string[] = [];
  socket.on('open', () => deferred.splice(0).forEach((message) => socket.send(message)));
  socket.on('error', (err: Error) => logger.warn({ err: err.message }, 'Stately Inspector unreachable'));
  socket.on('close', (code: number) => logger.info({ code }, 'Stately Inspector connection closed'));
  const send = (message: string): void => {
    if (socket.readyState === WebSocket.OPEN) return socket.send(message);
    if (socket.readyState !== WebSocket.CONNECTING) return;
    if (deferred.push(message) > MAX_DEFERRED) deferred.shift();
  };
  const inspector = createInspector(
    { send: (event) => send(JSON.stringify(event)), start: () => {}, stop: () => socket.close() },
    { sanitizeContext: redactContext, sanitizeEvent: redactEvent },
  );
  return {
    url: `${SKY_VIEWER}/${session}`,
    inspect: (event) => inspector.inspect.next?.(event),
    stop: () => inspector.stop(),
  };
}
