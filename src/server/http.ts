/** The server's plain HTTP side: health, metrics, and listening. */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { EXPOSITION_CONTENT_TYPE, exposition, type SignalingMetrics } from './serverMetrics.js';
import { serveWebFile, type WebFiles } from './webApp.js';

/** Plain HTTP: the health check, metrics and the web app if any; Socket.IO's own path never reaches here (engine.io intercepts it). */
export function answerHttp(req: IncomingMessage, res: ServerResponse, metrics: () => SignalingMetrics, web?: WebFiles): void {
  const path = (req.url ?? '').split('?', 1)[0] ?? '';
  if (req.method === 'GET' && web && serveWebFile(web, path, res)) return;
  if (req.method === 'GET' && path === '/health') {
    sendJson(res, 200, { status: 'ok', nodes: metrics().registeredNodes });
  } else if (req.method === 'GET' && path === '/metrics') {
    const text = exposition(metrics());
    res.writeHead(200, { 'content-type': EXPOSITION_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  } else {
    sendJson(res, 404, { error: 'not found' });
  }
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Binds `http`; rejects with the listen error (e.g. EADDRINUSE). */
export function listen(http: HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
}
