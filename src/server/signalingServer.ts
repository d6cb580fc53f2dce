/**
 * The signaling server: proves who each node is (challenge/response over its Ed25519 key) and relays
 * signed envelopes between registered nodes. It never sees anything it could forge — envelopes are
 * verified end to end by their receivers — so it is trusted only to deliver. docs/protocol.md is the
 * wire protocol in prose.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { Server } from 'socket.io';
import { silentLogger } from '../log.js';
import { Doorman } from './admission.js';
import { joinCluster } from './cluster.js';
import { resolveConfig, type SignalingServerOptions } from './config.js';
import { answerHttp, listen } from './http.js';
import { loadWebApp } from './webApp.js';
import type { Peer } from './peer.js';
import { Relay } from './relay.js';
import { ServerCounters, type SignalingMetrics } from './serverMetrics.js';

/** A running signaling server. */
export interface SignalingServer {
  /** `http://host:port`, what clients connect to. */
  readonly url: string;
  /** The port actually bound (useful with `port: 0`). */
  readonly port: number;
  readonly host: string;
  /** What `GET /metrics` serves, for an embedding application to publish its own way. */
  metrics(): SignalingMetrics;
  /** Disconnects every client and stops listening; later calls return the same promise. */
  close(): Promise<void>;
}

/**
 * Starts a signaling server and resolves once it is listening.
 *
 * @example
 * ```ts
 * const server = await createSignalingServer({ port: 8080, host: '0.0.0.0', logger: pino() });
 * console.log(`signaling on ${server.url}`);
 * process.on('SIGTERM', () => void server.close());
 * ```
 * @throws P2PError ERR_INVALID_OPTION for a malformed option; the listen error (e.g. EADDRINUSE) if binding fails.
 */
export async function createSignalingServer(options: SignalingServerOptions = {}): Promise<SignalingServer> {
  const config = resolveConfig(options);
  const logger = (options.logger ?? silentLogger).child({ component: 'signaling-server' });
  const registry = new Map<string, Peer>();
  const counters = new ServerCounters();
  const web = config.webApp === undefined ? undefined : loadWebApp(config.webApp);
  const http = createServer((req, res) => answerHttp(req, res, metrics, web));
  const doorman = new Doorman(
    { maxConnections: config.maxConnectionsPerAddress, handshakes: config.handshakeRateLimit, maxIdle: config.maxIdleBuckets },
    counters,
    logger,
  );
  const io = new Server(http, {
    transports: ['websocket'],
    maxHttpBufferSize: config.maxPayloadBytes,
    serveClient: false,
    allowRequest: (req, callback) => doorman.admit(req, callback),
  });
  // Only the relay subscribes to channels, so no message can arrive before it exists.
  const cluster = config.redis === undefined ? undefined : await joinCluster(config.redis, logger, (nodeId, message) => relay.fromCluster(nodeId, message));
  const relay = new Relay(registry, config, counters, logger, cluster);
  io.on('connection', (socket) => relay.accept(socket));

  try {
    await listen(http, config.port, config.host);
  } catch (err) {
    await io.close();
    await cluster?.close();
    throw err;
  }
  const port = (http.address() as AddressInfo).port;
  const host = config.host;
  const server = config.serverId ?? `${hostname()}:${port}`;
  function metrics(): SignalingMetrics {
    return {
      server,
      connectedSockets: io.engine.clientsCount,
      registeredNodes: registry.size,
      registrationsTotal: counters.registrations,
      relayedSignalsTotal: counters.relayedSignals,
      rejectedTotal: { ...counters.rejected },
      residentMemoryBytes: process.memoryUsage.rss(),
    };
  }
  logger.info({ host, port, server }, 'signaling server listening');
  if (config.turn) logger.info({ urls: config.turn.urls, ttlSeconds: config.turn.ttlSeconds }, 'handing out TURN credentials');

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    host,
    metrics,
    close: () =>
      (closing ??= io
        .close()
        .then(() => cluster?.close())
        .then(() => logger.info({ host, port }, 'signaling server closed'))),
  };
}
