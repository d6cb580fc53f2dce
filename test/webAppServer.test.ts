/** The signaling server's `webApp` option: the files of one folder at `/`, and nothing else. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSignalingServer, type SignalingServer } from '../src/index.js';

/** A raw GET, so that paths such as `/../x` reach the server as written (fetch would normalise them). */
function get(url: string, path: string, method = 'GET'): Promise<{ status: number; type: string | undefined; csp: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], csp: res.headers['content-security-policy'] as string | undefined, body }));
    });
    req.on('error', reject).end();
  });
}

describe('signaling server webApp', () => {
  let dir: string;
  const servers: SignalingServer[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'p2p-webapp-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>app</title>');
    writeFileSync(join(dir, 'app.js'), 'console.log(1);');
    writeFileSync(join(dir, 'notes.txt'), 'not served: no known type');
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'inner.js'), 'not served: in a subfolder');
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves index.html at / and the folder’s files by name, with a strict content security policy', async () => {
    const server = await createSignalingServer({ webApp: dir });
    servers.push(server);
    const index = await get(server.url, '/');
    expect(index).toMatchObject({ status: 200, type: 'text/html; charset=utf-8', body: '<!doctype html><title>app</title>' });
    expect(index.csp).toContain("default-src 'self'");
    expect(await get(server.url, '/index.html')).toMatchObject({ status: 200, body: index.body });
    expect(await get(server.url, '/app.js?v=1')).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8', body: 'console.log(1);' });
    expect(await get(server.url, '/health')).toMatchObject({ status: 200 });
  });

  it('answers 404 for anything else: other types, subfolders, traversal, other methods', async () => {
    const server = await createSignalingServer({ webApp: dir });
    servers.push(server);
    for (const path of ['/notes.txt', '/sub/inner.js', '/../package.json', '/%2e%2e/package.json', '//etc/passwd', '/app.js/']) {
      expect((await get(server.url, path)).status, path).toBe(404);
    }
    expect((await get(server.url, '/', 'POST')).status).toBe(404);
  });

  it('serves nothing at / without the option', async () => {
    const server = await createSignalingServer({});
    servers.push(server);
    expect((await get(server.url, '/')).status).toBe(404);
  });

  it('refuses a folder it cannot serve, with ERR_INVALID_OPTION', async () => {
    const empty = mkdtempSync(join(dir, 'empty-'));
    for (const webApp of [join(dir, 'no-such-folder'), empty, '', 5]) {
      await expect(createSignalingServer({ webApp: webApp as string })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    }
  });
});
