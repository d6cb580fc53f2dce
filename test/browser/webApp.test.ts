/**
 * The web app in Debian's Chromium against real nodes: the CLI (dist/cli.js, whose embedded server
 * serves the app) and other tabs, over the browser's own WebRTC, all inside a network namespace
 * of the test's own (./network.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cli, LineProcess, NODE_ID, ROOT } from '../support/cliProcess.js';
import { launchChromium } from './chromium.js';
import { browserNetwork, type BrowserNetwork } from './network.js';

const WEB_APP = /^web app: (http:\/\/\S+)$/;
const SCREENSHOT = join(ROOT, 'docs', 'web-app.png');
const FILE_BYTES = 50 * 1024 * 1024;
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** What the app's page exposes to scripts (this file is compiled without DOM types, so it names only that). */
interface PageGlobals {
  location: { hash: string };
  isSecureContext: boolean;
}

/** Opens the app, waits until its node is registered, and returns the page with the tab's node id. */
async function openApp(context: BrowserContext, url: string): Promise<{ page: Page; id: string; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(url);
  await page.locator('#status.registered').waitFor({ timeout: 15_000 });
  return { page, id: (await page.textContent('#me'))!, errors };
}

/** SHA-256 of the file the tab received, saved as a user would: its save link, a download. */
async function receivedHash(page: Page, name: string): Promise<string> {
  const link = page.locator(`#transfers a.saved[download="${name}"]`);
  await link.waitFor({ timeout: 60_000 });
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  expect(download.suggestedFilename()).toBe(name);
  return sha256(readFileSync((await download.path())!));
}

/** The tab's chat, as its lines' text. */
const chat = (page: Page): Promise<string[]> => page.locator('#messages li').allTextContents();

describe('web app in Chromium', () => {
  let browser: Browser;
  let network: BrowserNetwork;
  let dir: string;
  const children: LineProcess[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    network = browserNetwork();
    browser = await launchChromium(network.chromium);
    dir = mkdtempSync(join(tmpdir(), 'p2p-web-'));
  });
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
    for (const child of children.splice(0)) child.kill();
  });
  afterAll(async () => {
    await browser?.close();
    network?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A CLI node with its embedded server (and so the web app), isolated from the user's config. */
  async function hub(args: string[] = []): Promise<{ child: Cli; id: string; web: string }> {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config') };
    const child = new Cli([...args, '--identity', join(dir, `hub-${children.length}.pem`)], env, network.exec);
    children.push(child);
    const id = (await child.line(NODE_ID))[1]!;
    const web = (await child.line(WEB_APP))[1]!;
    return { child, id, web };
  }

  async function context(): Promise<BrowserContext> {
    const created = await browser.newContext({ viewport: { width: 1280, height: 760 } });
    contexts.push(created);
    return created;
  }

  it('a tab and a CLI node on another machine: connect by id, text both ways, a 50 MB file each way with its SHA-256 checked', async () => {
    const inbox = mkdtempSync(join(dir, 'inbox-'));
    // Listening on the namespace's LAN address, as for a browser on another machine: the page is then
    // not a secure context (plain http, not localhost), so no Web Locks, and the app must still work.
    const cli = await hub(['--accept-files', inbox, '--host', '198.51.100.1']);
    expect(cli.web).toMatch(/^http:\/\/198\.51\.100\.1:\d+\/$/);
    const tab = await openApp(await context(), `${cli.web}?accept`);
    expect(tab.id).toMatch(/^[0-9a-f]{64}$/);
    expect(await tab.page.evaluate(() => (globalThis as unknown as PageGlobals).isSecureContext)).toBe(false);

    // Connect from the tab, through the form, to the CLI's id.
    await tab.page.fill('#peer-id', cli.id);
    await tab.page.click('#connect button');
    await cli.child.line(new RegExp(`^\\* connected ${tab.id.slice(0, 8)} \\((host|prflx|srflx)\\)$`), 15_000);
    const row = tab.page.locator(`#peers tr[data-peer="${cli.id}"]`);
    await expect.poll(() => row.locator('td').nth(1).textContent()).toBe('connected');
    await expect.poll(() => row.locator('td').nth(3).textContent()).toMatch(/^\d+\.\d ms$/);

    await tab.page.fill('#text', 'hello from the tab');
    await tab.page.click('#say button');
    await cli.child.line(new RegExp(`^\\[${tab.id.slice(0, 8)}\\] hello from the tab$`));
    cli.child.type('hello from the CLI');
    await expect.poll(() => chat(tab.page)).toContain(`${cli.id.slice(0, 8)}…:hello from the CLI`);

    // Tab → CLI: a File from the page's file input, into the CLI's --accept-files folder.
    const up = randomBytes(FILE_BYTES);
    writeFileSync(join(dir, 'up.bin'), up);
    await tab.page.setInputFiles('#file', join(dir, 'up.bin'));
    const received = await cli.child.line(new RegExp(`^\\* < up\\.bin from ${tab.id.slice(0, 8)}: done, 52\\.4 MB verified \\(SHA-256\\) in ([\\d.]+) s, (.+)$`), 60_000);
    expect(sha256(readFileSync(join(inbox, 'up.bin')))).toBe(sha256(up));

    // CLI → tab: /send, accepted by the tab (?accept), hashed again in the page.
    const down = randomBytes(FILE_BYTES);
    writeFileSync(join(dir, 'down.bin'), down);
    cli.child.type(`/send ${tab.id.slice(0, 8)} ${join(dir, 'down.bin')}`);
    const sent = await cli.child.line(new RegExp(`^\\* > down\\.bin to ${tab.id.slice(0, 8)}: done, 52\\.4 MB verified \\(SHA-256\\) in ([\\d.]+) s, (.+)$`), 60_000);
    expect(await receivedHash(tab.page, 'down.bin')).toBe(sha256(down));
    console.log(`tab → CLI 50 MiB: ${received[1]} s (${received[2]}); CLI → tab: ${sent[1]} s (${sent[2]})`);
    expect(tab.errors).toEqual([]);
    await tab.page.click(`#peers tr[data-peer="${cli.id}"]`);
    await tab.page.evaluate(() => void ((globalThis as unknown as PageGlobals).location.hash = 'inspector'));
    await tab.page.locator('#inspector').waitFor();
    await tab.page.screenshot({ path: SCREENSHOT });
  });

  it('two tabs of one browser are two nodes, and talk to each other directly', async () => {
    const cli = await hub();
    const shared = await context();
    const first = await openApp(shared, `${cli.web}?accept`);
    const second = await openApp(shared, `${cli.web}?accept`);
    // The first tab holds the origin's default identity; the second gets one of its own.
    expect(second.id).not.toBe(first.id);

    await second.page.fill('#peer-id', first.id);
    await second.page.click('#connect button');
    await expect.poll(() => first.page.locator(`#peers tr[data-peer="${second.id}"] td`).nth(1).textContent(), { timeout: 15_000 }).toBe('connected');
    await second.page.fill('#text', 'tab to tab');
    await second.page.click('#say button');
    await expect.poll(() => chat(first.page)).toContain(`${second.id.slice(0, 8)}…:tab to tab`);

    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(join(dir, 'tab.bin'), bytes);
    await second.page.setInputFiles('#file', join(dir, 'tab.bin'));
    expect(await receivedHash(first.page, 'tab.bin')).toBe(sha256(bytes));
    expect([...first.errors, ...second.errors]).toEqual([]);
  });

  it('a tab and a CLI node that join the same topic find each other through the DHT and connect', async () => {
    const cli = await hub(['--join', 'tea-room']);
    const tab = await openApp(await context(), cli.web);
    await tab.page.fill('#topic', 'tea-room');
    await tab.page.click('#join button');
    // Found under the topic (discover$), not merely linked as DHT neighbours: the CLI's announcement.
    await expect.poll(() => tab.page.textContent('#topics'), { timeout: 15_000 }).toBe(`joined: tea-room; found: ${cli.id.slice(0, 8)}…`);
    await cli.child.line(new RegExp(`^\\* connected ${tab.id.slice(0, 8)} `), 15_000);
    await tab.page.fill('#text', 'found you by topic');
    await tab.page.click('#say button');
    await cli.child.line(new RegExp(`^\\[${tab.id.slice(0, 8)}\\] found you by topic$`));
    expect(tab.errors).toEqual([]);
  });

  it('a reloaded tab is the same node, and reconnects to the peers it had', async () => {
    const cli = await hub();
    const tab = await openApp(await context(), `${cli.web}`);
    await tab.page.fill('#peer-id', cli.id);
    await tab.page.click('#connect button');
    await cli.child.line(new RegExp(`^\\* connected ${tab.id.slice(0, 8)} `), 15_000);
    // The tab remembers a peer when it sees the connection itself, which can be a moment after the CLI
    // does: reloading before that would test a tab that never knew the peer.
    const known = (id: string): boolean | undefined =>
      (globalThis as unknown as { localStorage: { getItem(key: string): string | null } }).localStorage.getItem('p2p-dht-node/known-peers')?.includes(id);
    await tab.page.waitForFunction(known, cli.id, { timeout: 15_000 });
    const mark = cli.child.stdout.length;

    await tab.page.reload();
    await tab.page.locator('#status.registered').waitFor({ timeout: 15_000 });
    expect(await tab.page.textContent('#me')).toBe(tab.id);
    // The tab reconnects by itself (it remembers its peers); the CLI sees the same id come back.
    await cli.child.line(new RegExp(`^\\* connected ${tab.id.slice(0, 8)} `), 20_000, mark);
    await tab.page.fill('#text', 'back again');
    await tab.page.click('#say button');
    await cli.child.line(new RegExp(`^\\[${tab.id.slice(0, 8)}\\] back again$`), 10_000, mark);
    expect(tab.errors).toEqual([]);
  });

  it('runs the README’s browser example (examples/in-a-tab.js) as written, against a CLI node', async () => {
    // Bundled as a user would, resolving p2p-dht-node/browser through the package's own exports, and
    // served with a page by a signaling server, so that the example's location.origin is that server.
    const site = mkdtempSync(join(dir, 'site-'));
    await build({ entryPoints: [join(ROOT, 'examples', 'in-a-tab.js')], bundle: true, format: 'esm', platform: 'browser', outfile: join(site, 'example.js'), logLevel: 'error' });
    writeFileSync(join(site, 'index.html'), '<!doctype html><script type="module" src="example.js"></script>');
    const server = new LineProcess([...network.exec, process.execPath, '--import', 'tsx', join(import.meta.dirname, 'servePage.ts'), site], process.env);
    children.push(server);
    const url = (await server.line(/^serving: (\S+)$/, 20_000))[1]!;
    const inbox = mkdtempSync(join(dir, 'inbox-'));
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config') };
    const cli = new Cli(['--signal', url, '--accept-files', inbox, '--identity', join(dir, 'example.pem')], env, network.exec);
    children.push(cli);
    const id = (await cli.line(NODE_ID))[1]!;

    const page = await (await context()).newPage();
    const logs: string[] = [];
    const errors: string[] = [];
    page.on('console', (message) => logs.push(message.text()));
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${url}/#${id}`);
    await cli.line(/^\[[0-9a-f]{8}\] hello from a tab$/, 15_000).catch((err: Error) => {
      throw new Error(`${err.message}\npage console: ${logs.join('\n')}\npage errors: ${errors.join('\n')}`);
    });
    await cli.line(/^\* < notes\.txt from [0-9a-f]{8}: done, /, 15_000);
    expect(readFileSync(join(inbox, 'notes.txt'), 'utf8')).toBe('notes from the tab\n');
    await expect.poll(() => logs).toContainEqual(expect.stringMatching(/^notes\.txt arrived, sha256 [0-9a-f]{16}…$/));
    expect(errors).toEqual([]);
  });
});
