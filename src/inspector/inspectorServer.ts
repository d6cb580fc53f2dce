/**
 * The live inspector's HTTP side: serves the page and streams the inspection log to it as
 * server-sent events. Loopback only, and it answers only to loopback host names, so a web page
 * elsewhere cannot read the stream through DNS rebinding.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Subscription } from 'rxjs';
import { P2PError } from '../errors.js';
import type { InspectionLog, InspectorUpdate } from './inspectionLog.js';
import { inspectorPage } from './page.js';

export interface InspectorServerOptions {
  /** 0 picks a free port. */
  port: number;
  log: InspectionLog;
  /** SVG chart per machine root id (`node`, `signaling`, `peer`). */
  charts: Record<string, string>;
}

export interface InspectorServer {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  close(): Promise<void>;
}

const HOST = '127.0.0.1';
/** Proxies and browsers drop idle streams; a comment line every so often keeps this one open. */
const KEEPALIVE_MS = 15_000;

/**
 * Starts the inspector page on 127.0.0.1:`port`.
 *
 * @throws P2PError `ERR_INSPECTOR` when the port cannot be listened on.
 */
export async function startInspectorServer({ port, log, charts }: InspectorServerOptions): Promise<InspectorServer> {
  const streams = new Set<ServerResponse>();
  const page = inspectorPage();
  let pending: InspectorUpdate[] = [];

  // One write per burst: a connection attempt changes several actors within the same tick.
  const flush = (): void => {
    const data = `data: ${JSON.stringify(pending)}\n\n`;
    pending = [];
    for (const res of streams) res.write(data);
  };
  const updates: Subscription = log.updates.subscribe((update) => {
    if (streams.size === 0) return;
    if (pending.push(update) === 1) setImmediate(flush);
  });

  const server = createServer((req, res) => {
    if (!fromLoopbackName(req)) return reply(res, 403, 'text/plain', 'forbidden host\n');
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/') return reply(res, 200, 'text/html; charset=utf-8', page);
    if (req.method === 'GET' && path === '/events') return openStream(req, res);
    // A custom header forces a CORS preflight, which this server never grants, so other sites cannot clear.
    if (req.method === 'POST' && path === '/clear' && req.headers['x-inspector'] === '1') {
      log.clearEnded();
      return reply(res, 204, 'text/plain', '');
    }
    reply(res, 404, 'text/plain', 'not found\n');
  });

  function openStream(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`event: hello\ndata: ${JSON.stringify({ charts, ...log.snapshot() })}\n\n`);
    streams.add(res);
    req.on('close', () => streams.delete(res));
  }

  const keepalive = setInterval(() => {
    for (const res of streams) res.write(': keepalive\n\n');
  }, KEEPALIVE_MS).unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new P2PError('ERR_INSPECTOR', `inspector cannot listen on ${HOST}:${port} (${err.code ?? err.message})`, { cause: err })),
    );
    server.listen(port, HOST, resolve);
  }).catch((err: unknown) => {
    updates.unsubscribe();
    clearInterval(keepalive);
    throw err;
  });
  const { port: bound } = server.address() as AddressInfo;

  return {
    url: `http://${HOST}:${bound}/`,
    close: async () => {
      updates.unsubscribe();
      clearInterval(keepalive);
      for (const res of streams) res.end();
      streams.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function reply(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

function fromLoopbackName(req: IncomingMessage): boolean {
  const host = (req.headers.host ?? '').replace(/:\d+$/, '');
  return host === HOST || host === 'localhost' || host === '[::1]';
}
