/**
 * The web app a signaling server serves at `/` (`webApp` option, `p2p-node signal --web`): the
 * files of one folder, read once at start and kept in memory, so a request can only ever name one of
 * them (no path is joined from a URL) and a tab loads without the disk.
 *
 * @module
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { P2PError } from '../errors.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** Served files by URL path. */
export type WebFiles = ReadonlyMap<string, { type: string; body: Buffer }>;

/**
 * The files of `dir` (not its subfolders) whose types it knows, `/` being its index.html; throws
 * ERR_INVALID_OPTION when there is no index.html (for the bundled app: `npm run build` first).
 *
 * @example
 * ```ts
 * const files = loadWebApp('dist/web'); // files.get('/') is index.html
 * ```
 */
export function loadWebApp(dir: string): WebFiles {
  const files = new Map<string, { type: string; body: Buffer }>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (cause) {
    throw new P2PError('ERR_INVALID_OPTION', `web app folder ${dir} cannot be read: ${(cause as Error).message}`, { cause });
  }
  for (const name of names) {
    const type = TYPES[extname(name)];
    const path = join(dir, name);
    if (type && statSync(path).isFile()) files.set(`/${name}`, { type, body: readFileSync(path) });
  }
  const index = files.get('/index.html');
  if (!index) throw new P2PError('ERR_INVALID_OPTION', `web app folder ${dir} has no index.html (run npm run build)`);
  files.set('/', index);
  return files;
}

/** Answers a GET for one of `files`; false if `path` is none of them. */
export function serveWebFile(files: WebFiles, path: string, res: ServerResponse): boolean {
  const file = files.get(path);
  if (!file) return false;
  res.writeHead(200, {
    'content-type': file.type,
    'content-length': file.body.length,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    // The app's own scripts only; WebRTC and the signaling WebSocket go to this origin or peers.
    'content-security-policy': "default-src 'self'; connect-src 'self' ws: wss: blob:; img-src 'self' blob: data:; frame-ancestors 'none'",
  });
  res.end(file.body);
  return true;
}
