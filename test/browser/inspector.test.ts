import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inspectorCharts } from '../../src/inspector/charts.js';
import { InspectionLog } from '../../src/inspector/inspectionLog.js';
import { startInspectorServer, type InspectorServer } from '../../src/inspector/inspectorServer.js';
import { Harness, next } from '../helpers.js';
import { World } from '../support/world.js';
import { launchChromium } from './chromium.js';

const SCREENSHOT = join(import.meta.dirname, '..', '..', 'docs', 'inspector.png');

interface PageLog {
  seq: number;
  actor: string;
  event: string;
  from: string;
  to: string;
}

/** What the page's script exposes (this file is compiled without DOM types, so it names only that). */
interface PageGlobals {
  inspector: { latencies: number[]; log: PageLog[]; actors: { name: string; state: string }[] };
  document: { querySelectorAll(selector: string): ArrayLike<{ click(): void }> };
  requestAnimationFrame(callback: () => void): void;
}

async function openInspector(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
  await page.goto(url);
  await page.locator('#status.live').waitFor();
  (page as Page & { errors: string[] }).errors = errors;
  return page;
}

const percentile = (values: number[], p: number) => [...values].sort((x, y) => x - y)[Math.min(values.length - 1, Math.floor(values.length * p))]!;

describe('inspector page in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(() => browser?.close());

  const h = new Harness();
  afterEach(() => h.cleanup());

  it('shows two real nodes connecting: the peer actor reaches connected, its events in order', async () => {
    const server = await h.server();
    const a = await h.started(server.url, { inspect: { port: 0 } });
    const b = await h.started(server.url);
    const page = await openInspector(browser, a.inspectorUrl!);

    await a.connectToNode(b.nodeId);
    const delivered = next(b.data$);
    await a.send(b.nodeId, 'hello from a');
    expect((await delivered).data).toBe('hello from a');

    const peerRow = page.locator(`.actor[data-actor="peer.${b.nodeId}"]`);
    await expect.poll(() => peerRow.getAttribute('data-state')).toBe('connected');
    await peerRow.click();
    await page.locator('.chart.shown [data-state="peer.connected"].active').waitFor();
    expect(await page.locator('.chart.shown .active').count()).toBe(1);
    await page.locator('.entry', { hasText: 'verifying → connected' }).waitFor();

    const log = await page.evaluate(() => (globalThis as unknown as PageGlobals).inspector.log);
    const peerStates = log.filter((e) => e.actor === `peer.${b.nodeId}` && e.from !== e.to).map((e) => `${e.from || '∅'} → ${e.to}`);
    expect(peerStates).toEqual(['∅ → offering', 'offering → connecting', 'connecting → verifying', 'verifying → connected']);
    const supervisor = log.filter((e) => e.actor === 'node' && e.from !== e.to).map((e) => e.to);
    expect(supervisor).toEqual(['idle', 'running.connecting', 'running.online']);
    expect(log.map((e) => e.seq)).toEqual([...log.keys()].map((i) => log[0]!.seq + i)); // none missing, none reordered
    expect((page as Page & { errors: string[] }).errors).toEqual([]);

    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    await page.close();
  });

  it('keeps up with a node connecting to 50 real peers', async () => {
    // 51 nodes start at once from 127.0.0.1: more handshakes than one address may make by default (32).
    const server = await h.server({ handshakeRateLimit: { perSecond: 100, burst: 100 } });
    const hub = await h.started(server.url, { inspect: { port: 0 }, maxPeers: 60 });
    const others = await Promise.all(Array.from({ length: 50 }, () => h.started(server.url)));
    const page = await openInspector(browser, hub.inspectorUrl!);
    // Ten at a time: all 100 ends of these connections share this process's two cores.
    const t0 = Date.now();
    for (let i = 0; i < others.length; i += 10) await Promise.all(others.slice(i, i + 10).map((o) => hub.connectToNode(o.nodeId)));
    const connectMs = Date.now() - t0;
    const connected = () =>
      page.evaluate(() => (globalThis as unknown as PageGlobals).inspector.actors.filter((x) => x.name.startsWith('peer.') && x.state === 'connected').length);
    await expect.poll(connected, { timeout: 10_000 }).toBe(50);
    const latencies = await page.evaluate(() => (globalThis as unknown as PageGlobals).inspector.latencies);
    const stats = { events: latencies.length, p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), max: Math.max(...latencies), connectMs };
    console.log(`inspector update latency, 50 real WebRTC peers: ${JSON.stringify(stats)} ms`);
    expect((page as Page & { errors: string[] }).errors).toEqual([]);
    await page.close();
  });

  describe('with 50 peer actors and over 1,000 events', () => {
    let inspector: InspectorServer | undefined;
    afterEach(() => inspector?.close());

    it('keeps up: every update drawn, the log capped and virtualized, clicks answered', async () => {
      const log = new InspectionLog();
      // One supervisor's actors, as a node inspects its own; its 50 peers negotiate in memory.
      let hubRoot: string | undefined;
      const world = new World((event) => (hubRoot === undefined || event.rootId === hubRoot) && log.inspect(event));
      const hub = world.node({ maxPeers: 60 });
      hubRoot = world.actor(hub).sessionId;
      const others = Array.from({ length: 50 }, () => world.node());
      world.flush();
      inspector = await startInspectorServer({ port: 0, log, charts: inspectorCharts() });
      const page = await openInspector(browser, inspector.url);

      // Live pace: one peer per macrotask, so the page receives a stream rather than one burst.
      const pause = () => new Promise((resolve) => setTimeout(resolve, 2));
      for (let round = 0; round < 3; round++) {
        for (const id of others) {
          world.actor(hub).send({ type: 'CONNECT', peerId: id });
          world.flush();
          await pause();
        }
        if (round < 2) {
          for (const id of others) world.actor(hub).send({ type: 'DISCONNECT', peerId: id });
          world.flush();
          log.clearEnded();
          await pause();
        }
      }
      const last = log.snapshot().log.at(-1)!.seq;
      expect(last).toBeGreaterThan(1000);
      await expect.poll(() => page.evaluate(() => (globalThis as unknown as PageGlobals).inspector.log.at(-1)?.seq), { timeout: 10_000 }).toBe(last);

      const { latencies, logLength, peers } = await page.evaluate(() => {
        const { inspector } = globalThis as unknown as PageGlobals;
        return {
          latencies: inspector.latencies,
          logLength: inspector.log.length,
          peers: inspector.actors.filter((x) => x.name.startsWith('peer.') && x.state === 'connected').length,
        };
      });
      const rows = await page.locator('#log .entry').count();
      expect(peers).toBe(50);
      expect(logLength).toBe(1000);
      expect(rows).toBeLessThan(80); // only what is in view (plus a margin) exists in the DOM
      expect(latencies.length).toBeGreaterThanOrEqual(1000);

      // Responsiveness, measured and reported: from a click on the last peer to the next painted frame.
      const clickMs = await page.evaluate(async () => {
        const { document, requestAnimationFrame } = globalThis as unknown as PageGlobals;
        const peers = document.querySelectorAll('.actor[data-actor^="peer."]');
        const t0 = performance.now();
        peers[peers.length - 1]!.click();
        await new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
        return performance.now() - t0;
      });
      await page.locator('.chart.shown [data-state="peer.connected"].active').waitFor();
      const stats = { p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), max: Math.max(...latencies), clickMs: Math.round(clickMs) };
      console.log(`inspector update latency, 50 peers, ${latencies.length} events: ${JSON.stringify(stats)} ms`);
      expect((page as Page & { errors: string[] }).errors).toEqual([]);
      await page.close();
    });
  });
});
