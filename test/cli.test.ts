import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cli, NODE_ID, SIGNALING } from './support/cliProcess.js';

describe('p2p-node CLI', () => {
  let dir: string;
  const children: Cli[] = [];

  /** Starts the CLI isolated from the user's config and environment. */
  function cli(args: string[], identity = 'id.pem'): Cli {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config') };
    const child = new Cli([...args, '--loopback-only', '--identity', join(dir, identity)], env);
    children.push(child);
    return child;
  }

  /** A node with its own embedded signaling server, once it has printed its id and URL. */
  async function hub(identity = 'hub.pem'): Promise<{ child: Cli; id: string; url: string }> {
    const child = cli([], identity);
    const id = (await child.line(NODE_ID))[1]!;
    const url = (await child.line(SIGNALING))[1]!;
    return { child, id, url };
  }

  function closedPort(): Promise<number> {
    return new Promise((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
  }

  // dist/ is built once by the global setup (test/support/build.ts); rebuilding here would rewrite
  // files that other test files are executing at the same time.
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'p2p-cli-'));
  });

  afterEach(() => {
    for (const child of children.splice(0)) child.kill();
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('signal: serves /health and exits 0 on SIGINT', async () => {
    // The node-only flags (--identity, --loopback-only) do not apply to, and are refused by, `signal`.
    const child = new Cli(['signal', '--port', '0'], { PATH: process.env.PATH, XDG_CONFIG_HOME: join(dir, 'config') });
    children.push(child);
    const url = (await child.line(SIGNALING))[1]!;
    const health = await fetch(`${url}/health`);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    child.signal('SIGINT');
    expect(await child.exitCode()).toBe(0);
  });

  it('signal --web serves the built web app at /, and a node’s embedded server always does', async () => {
    const server = new Cli(['signal', '--port', '0', '--web'], { PATH: process.env.PATH, XDG_CONFIG_HOME: join(dir, 'config') });
    children.push(server);
    const url = (await server.line(SIGNALING))[1]!;
    expect((await server.line(/^web app: (\S+)$/))[1]).toBe(`${url}/`);
    const page = await fetch(`${url}/`);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<script type="module" src="app.js"></script>');
    expect((await fetch(`${url}/app.js`)).status).toBe(200);
    // The library too, for pages of one's own to import from the server they signal through.
    expect((await fetch(`${url}/p2p-dht-node.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    server.signal('SIGINT');
    expect(await server.exitCode()).toBe(0);

    const node = cli([], 'web.pem');
    const signaling = (await node.line(SIGNALING))[1]!;
    expect((await node.line(/^web app: (\S+)$/))[1]).toBe(`${signaling}/`);
    node.type('/quit');
    expect(await node.exitCode()).toBe(0);
  });

  it('the README flow as written: two nodes sharing one config directory get two identities', async () => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, XDG_CONFIG_HOME: join(dir, 'shared-config') };
    const a = new Cli(['--loopback-only'], env);
    children.push(a);
    const aId = (await a.line(NODE_ID))[1]!;
    const url = (await a.line(SIGNALING))[1]!;
    const b = new Cli(['--signal', url, '--connect', aId, '--loopback-only'], env);
    children.push(b);
    await b.line(/^\* .*identity\.pem is in use by another node here; using .*identity-2\.pem$/);
    const bId = (await b.line(NODE_ID))[1]!;
    expect(bId).not.toBe(aId);
    await b.line(new RegExp(`^\\* connected ${aId.slice(0, 8)} \\(host\\)$`), 15_000);
    a.type('/quit');
    b.type('/quit');
    expect(await a.exitCode()).toBe(0);
    expect(await b.exitCode()).toBe(0);
  });

  it('refuses an identity file that another running node holds', async () => {
    const a = await hub('held.pem');
    const b = cli(['--signal', a.url], 'held.pem');
    expect(await b.exitCode()).toBe(1);
    expect(b.stderr).toMatch(/^p2p-node: identity file .*held\.pem is in use by process \d+\n$/);
  });

  it('two nodes connect, chat both ways, list peers and quit', async () => {
    const a = await hub('a.pem');
    const b = cli(['--signal', a.url, '--connect', a.id], 'b.pem');
    const bId = (await b.line(NODE_ID))[1]!;
    await b.line(new RegExp(`^\\* connected ${a.id.slice(0, 8)} \\(host\\)$`), 15_000);
    await a.child.line(new RegExp(`^\\* connected ${bId.slice(0, 8)} `));

    a.child.type('hello from a');
    await b.line(new RegExp(`^\\[${a.id.slice(0, 8)}\\] hello from a$`));
    b.type('hello from b');
    await a.child.line(new RegExp(`^\\[${bId.slice(0, 8)}\\] hello from b$`));

    const mark = a.child.stdout.length;
    a.child.type('/peers');
    // --loopback-only limits the candidates we signal; libwebrtc may still bind a socket to another of
    // this host's addresses, and a far end seen as peer-reflexive has its address redacted ('-').
    const remote = '((127\\.0\\.0\\.1|\\[::1\\]):\\d+|-)';
    await a.child.line(new RegExp(`^${bId}\\s+connected\\s+host\\s+\\S+:\\d+\\s+${remote}\\s+(\\d+ ms|-)\\s+\\d+\\s+\\d+$`), 5_000, mark);

    b.type('/quit');
    expect(await b.exitCode()).toBe(0);
    await a.child.line(new RegExp(`^\\* closed ${bId.slice(0, 8)}$`));
    a.child.type('/quit');
    expect(await a.child.exitCode()).toBe(0);
  });

  it('--join: two nodes that type the same word find and connect to each other; /lookup, /put, /get and /dht work', async () => {
    const a = cli(['--join', 'chat/room-42'], 'ja.pem');
    const aId = (await a.line(NODE_ID))[1]!;
    const url = (await a.line(SIGNALING))[1]!;
    await a.line(/^\* joined chat\/room-42$/, 15_000);
    const b = cli(['--signal', url, '--join', 'chat/room-42'], 'jb.pem');
    const bId = (await b.line(NODE_ID))[1]!;
    await b.line(new RegExp(`^\\* found ${aId.slice(0, 8)} under chat/room-42$`), 15_000);
    await b.line(new RegExp(`^\\* connected ${aId.slice(0, 8)} `), 15_000);
    b.type('hello, room');
    await a.line(new RegExp(`^\\[${bId.slice(0, 8)}\\] hello, room$`));

    b.type('/lookup chat/room-42');
    await b.line(new RegExp(`^  ${aId}$`));
    a.type('/put status \u001b[31mbusy');
    await a.line(/^\* stored status \(seq \d+\)$/);
    b.type(`/get ${aId} status`);
    // The value is another node's text: control characters are shown escaped, never sent to the terminal.
    await b.line(/^\* status = \\u001b\[31mbusy \(seq \d+\)$/);
    b.type('/dht');
    await b.line(/^dht: (ready|degraded), \d+ contacts, \d+ connections$/);
    await b.line(/^joined: chat\/room-42$/);

    b.type('/quit');
    a.type('/quit');
    expect(await b.exitCode()).toBe(0);
    expect(await a.exitCode()).toBe(0);
  });

  it('/send: a file goes to a node that takes files, verified, with progress; a node that takes none declines it', async () => {
    const inbox = mkdtempSync(join(dir, 'inbox-'));
    const a = cli(['--accept-files', inbox], 'fa.pem');
    const aId = (await a.line(NODE_ID))[1]!;
    const url = (await a.line(SIGNALING))[1]!;
    await a.line(new RegExp(`^accepting files into: ${inbox}$`));
    const b = cli(['--signal', url, '--connect', aId], 'fb.pem');
    const bId = (await b.line(NODE_ID))[1]!;
    await b.line(new RegExp(`^\\* connected ${aId.slice(0, 8)} `), 15_000);
    const bytes = randomBytes(20 * 1024 * 1024);
    const path = join(dir, 'big file.bin');
    writeFileSync(path, bytes);

    b.type(`/send ${aId.slice(0, 8)} ${path}`);
    await b.line(new RegExp(`^\\* > big file\\.bin to ${aId.slice(0, 8)}: offered \\(21\\.0 MB\\), waiting for an answer$`));
    await b.line(new RegExp(`^\\* > big file\\.bin to ${aId.slice(0, 8)}: done, 21\\.0 MB verified \\(SHA-256\\) in [\\d.]+ s, [\\d.]+ [KMG]?B/s$`), 30_000);
    await a.line(new RegExp(`^\\* < big file\\.bin from ${bId.slice(0, 8)}: done, 21\\.0 MB verified \\(SHA-256\\) in [\\d.]+ s, [\\d.]+ [KMG]?B/s → ${inbox}/big file\\.bin$`));
    expect(readFileSync(join(inbox, 'big file.bin')).equals(bytes)).toBe(true);
    const mark = b.stdout.length;
    b.type('/files');
    await b.line(new RegExp(`^  [0-9a-f]{8} sent to     ${aId.slice(0, 8)}  done    21\\.0 MB / 21\\.0 MB  big file\\.bin$`), 5_000, mark);

    // b was started without --accept-files: it declines, and says how to take files.
    a.type(`/send ${bId.slice(0, 8)} ${path}`);
    await b.line(new RegExp(`^\\* ${aId.slice(0, 8)} offered big file\\.bin \\(21\\.0 MB\\); declined: start with --accept-files DIR to take files$`));
    await a.line(/^! ERR_FILE_DECLINED: .* declined big file\.bin: declined$/);
    a.type(`/send ${bId.slice(0, 8)} ${join(dir, 'no-such-file')}`);
    await a.line(/^! ERR_FILE_UNREADABLE: cannot read /);
    b.type('/quit');
    a.type('/quit');
    expect(await b.exitCode()).toBe(0);
    expect(await a.exitCode()).toBe(0);
  });

  it('usage errors exit 2 with one line on stderr', async () => {
    const cases = [['--bogus'], ['--turn', 'turn:127.0.0.1:3478'], ['--connect', 'nothex'], ['--join', ''], ['--accept-files', '/no/such/folder']];
    for (const args of cases) {
      const child = cli(args);
      expect(await child.exitCode(), args.join(' ')).toBe(2);
      expect(child.stderr).toMatch(/^p2p-node: [^\n]+\n$/);
      expect(child.stdout.join('')).toBe('');
    }
  });

  it('an unreachable signaling server exits 1 with the reason', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const child = cli(['--signal', url, '--log-level', 'silent']);
    expect(await child.exitCode(15_000)).toBe(1);
    expect(child.stderr).toMatch(new RegExp(`^p2p-node: cannot reach signaling server ${url} after 2 attempts \\(last: [^\\n]+\\)\\n$`));
  });

  it('keeps the node id in the identity file, readable only by its owner', async () => {
    const first = await hub('persist.pem');
    first.child.type('/quit');
    expect(await first.child.exitCode()).toBe(0);
    const second = await hub('persist.pem');
    expect(second.id).toBe(first.id);
    expect(statSync(join(dir, 'persist.pem')).mode & 0o777).toBe(0o600);
  });

  it('stops cleanly on SIGTERM, also after stdin has ended', async () => {
    const { child } = await hub('term.pem');
    child.type('/peers');
    await child.line(/^no peers$/);
    child.endInput();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(child.alive).toBe(true);
    child.signal('SIGTERM');
    expect(await child.exitCode()).toBe(0);
  });

  it('--inspect serves the inspector page on loopback; a port in use exits 1 with ERR_INSPECTOR', async () => {
    const child = cli(['--inspect', '0']);
    const url = (await child.line(/^inspector: (http:\/\/127\.0\.0\.1:\d+\/)$/))[1]!;
    const page = await fetch(url);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('p2p-node inspector');

    const port = new URL(url).port;
    const second = cli(['--inspect', port], 'other.pem');
    expect(await second.exitCode()).toBe(1);
    expect(second.stderr).toContain('ERR_INSPECTOR');
    child.signal('SIGINT');
    expect(await child.exitCode()).toBe(0);
  });
});
