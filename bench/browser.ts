/**
 * Bench section 9: a browser tab as a node (Chromium, the library bundle dist/browser) against Node
 * nodes, alternated in one run: connection setup (tab → Node against Node → Node), throughput of
 * 64 KiB messages (tab → Node, Node → tab, Node → Node, tab → tab, and bare Chromium data channels
 * between two tabs as the ceiling of the last), and a file from a Blob (`sendFile`) against `send()`
 * of the same bytes. Every process runs in a network namespace of the bench's own (as root: Chromium
 * gathers no loopback candidates), each Node node in its own process; the tabs run the bare library,
 * not the web app's UI. Times are taken by the bench, from the command to the receiver holding every
 * byte (or, for files, to the sender's verified result).
 */
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../test/browser/chromium.js';
import { browserNetwork } from '../test/browser/network.js';
import { Cli, LineProcess } from '../test/support/cliProcess.js';
import { rawTabs, rawTransfer } from './rawTabs.js';
import { rows } from './stats.js';
import type { BenchOptions, BenchSection } from './types.js';

const MB = 1e6;
const MESSAGE = 64 * 1024;
const NODE = 'Node → Node';
const TAB = 'tab → Node';
const TO_TAB = 'Node → tab';
const TAB_TO_TAB = 'tab → tab';
const RAW_TABS = 'bare Chromium tab → tab';

/** The parts of the tab's node the bench calls (this file is compiled without DOM types). */
interface TabNode {
  nodeId: string;
  start(): Promise<void>;
  connectToNode(id: string): Promise<void>;
  disconnect(id: string): Promise<void>;
  send(id: string, data: Uint8Array): Promise<void>;
  sendFile(id: string, blob: unknown, options: { name: string }): Promise<unknown>;
  data$: { subscribe(next: (m: { data: Uint8Array | string }) => void): { unsubscribe(): void } };
}
type TabGlobals = { node: TabNode; blob: unknown };

/** A tab running the bare library, imported from the server, with an identity of its own. */
async function openTab(browser: Browser, url: string): Promise<{ page: Page; id: string }> {
  const page = await browser.newPage();
  await page.goto(`${url}/health`);
  const id = await page.evaluate(async (signalingUrl) => {
    const lib = (await import(`${signalingUrl}/p2p-dht-node.js`)) as { createNode(o: object): TabNode; generateIdentity(): unknown };
    const node = lib.createNode({ signalingUrl, identity: lib.generateIdentity() });
    (globalThis as unknown as { node: TabNode }).node = node;
    await node.start();
    return node.nodeId;
  }, url);
  return { page, id };
}

/** Resolves once the tab's node received `total` bytes of messages. */
function tabReceives(page: Page, total: number): Promise<void> {
  return page.evaluate(
    (bytes) =>
      new Promise<void>((resolve) => {
        let seen = 0;
        const sub = (globalThis as unknown as { node: TabNode }).node.data$.subscribe(({ data }) => {
          seen += typeof data === 'string' ? data.length : data.byteLength;
          if (seen >= bytes) (sub.unsubscribe(), resolve());
        });
      }),
    total,
  );
}

/** The tab sends `count` messages of `size` bytes to `peer`, each awaited as the API asks. */
function tabSends(page: Page, peer: string, size: number, count: number): Promise<void> {
  return page.evaluate(
    async ({ peerId, size, count }) => {
      const message = new Uint8Array(size).fill(7);
      for (let i = 0; i < count; i++) await (globalThis as unknown as { node: TabNode }).node.send(peerId, message);
    },
    { peerId: peer, size, count },
  );
}

/** One Node node of bench/peers/browserPeer.ts: requests and their replies, in order. */
class NodePeer {
  #seen = 0;
  constructor(readonly process: LineProcess) {}

  async next(ev: string, ms = 120_000): Promise<Record<string, unknown>> {
    await this.process.line(new RegExp(`^\\{"ev":"(${ev}|error)"`), ms, this.#seen);
    const index = this.process.stdout.findIndex((line, i) => i >= this.#seen && new RegExp(`^\\{"ev":"(${ev}|error)"`).test(line));
    this.#seen = index + 1;
    const event = JSON.parse(this.process.stdout[index]!) as Record<string, unknown>;
    if (event.ev === 'error') throw new Error(String(event.message));
    return event;
  }

  ask(request: object): void {
    this.process.type(JSON.stringify(request));
  }
}

export async function run(options: BenchOptions): Promise<BenchSection[]> {
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const bytes = (options.smoke ? 4 : 32) * 1024 * 1024;
  const rounds = options.smoke ? 1 : 5;
  const setups = options.smoke ? 2 : 10;
  const network = browserNetwork();
  const processes: LineProcess[] = [];
  const browser = await launchChromium(network.chromium);
  try {
    const server = new Cli(['signal', '--port', '0', '--web'], { PATH: process.env.PATH }, network.exec);
    processes.push(server);
    const url = (await server.line(/^signaling: (\S+)$/, 20_000))[1]!;
    const peer = (): NodePeer => {
      const child = new LineProcess([...network.exec, process.execPath, '--import', 'tsx', 'bench/peers/browserPeer.ts', url], process.env);
      processes.push(child);
      return new NodePeer(child);
    };
    const [a, b] = [peer(), peer()];
    await a.next('id', 60_000);
    const bId = String((await b.next('id', 60_000)).id);

    const { page, id: tabId } = await openTab(browser, url);
    const other = await openTab(browser, url);
    const raw = await rawTabs(browser);

    const setupMs: Record<string, number[]> = { [NODE]: [], [TAB]: [] };
    for (let i = 0; i < setups; i++) {
      a.ask({ cmd: 'connect', peer: bId });
      setupMs[NODE]!.push(Number((await a.next('connected')).ms));
      a.ask({ cmd: 'disconnect', peer: bId });
      await a.next('disconnected');
      setupMs[TAB]!.push(
        await page.evaluate(async (peerId) => {
          const node = (globalThis as unknown as { node: TabNode }).node;
          const started = performance.now();
          await node.connectToNode(peerId);
          const ms = performance.now() - started;
          await node.disconnect(peerId);
          return ms;
        }, bId),
      );
    }
    log(`  browser setup: Node → Node ${setupMs[NODE]!.map((ms) => ms.toFixed(0)).join(', ')} ms; tab → Node ${setupMs[TAB]!.map((ms) => ms.toFixed(0)).join(', ')} ms`);

    a.ask({ cmd: 'connect', peer: bId });
    await a.next('connected');
    await page.evaluate((peerId) => (globalThis as unknown as { node: TabNode }).node.connectToNode(peerId), bId);
    await page.evaluate((peerId) => (globalThis as unknown as { node: TabNode }).node.connectToNode(peerId), other.id);
    const count = bytes / MESSAGE;
    const timed = async (work: () => Promise<unknown>): Promise<number> => {
      const started = performance.now();
      await work();
      return bytes / MB / ((performance.now() - started) / 1000);
    };
    const intoB = async (send: () => Promise<unknown>): Promise<number> => {
      b.ask({ cmd: 'expect', bytes });
      await b.next('expecting');
      return timed(() => Promise.all([b.next('got'), send()]));
    };
    const mbps: Record<string, number[]> = { [NODE]: [], [TAB]: [], [TO_TAB]: [], [TAB_TO_TAB]: [], [RAW_TABS]: [] };
    const files: Record<string, number[]> = { 'tab send()': [], 'tab sendFile(Blob)': [] };
    for (let round = 0; round < rounds; round++) {
      mbps[NODE]!.push(await intoB(async () => (a.ask({ cmd: 'send', peer: bId, size: MESSAGE, count }), a.next('sent'))));
      const tab = await intoB(() => tabSends(page, bId, MESSAGE, count));
      mbps[TAB]!.push(tab);
      files['tab send()']!.push(tab);
      mbps[TO_TAB]!.push(await timed(() => Promise.all([tabReceives(page, bytes), (b.ask({ cmd: 'send', peer: tabId, size: MESSAGE, count }), b.next('sent'))])));
      mbps[TAB_TO_TAB]!.push(await timed(() => Promise.all([tabReceives(other.page, bytes), tabSends(page, other.id, MESSAGE, count)])));
      mbps[RAW_TABS]!.push(await timed(() => rawTransfer(raw, MESSAGE, count)));
      await page.evaluate(
        ({ total, fill }) => void ((globalThis as unknown as TabGlobals).blob = new Blob([new Uint8Array(total).fill(fill)])),
        { total: bytes, fill: round + 1 },
      );
      files['tab sendFile(Blob)']!.push(
        await timed(() =>
          Promise.all([
            b.next('file'),
            page.evaluate(async (peerId) => {
              const g = globalThis as unknown as TabGlobals;
              await g.node.sendFile(peerId, g.blob, { name: 'bench.bin' });
            }, bId),
          ]),
        ),
      );
      log(`  browser round ${round + 1}: ${Object.entries({ ...mbps, ...files }).map(([name, s]) => `${name} ${s.at(-1)!.toFixed(1)}`).join(', ')} MB/s`);
    }
    const label = `${bytes / (1024 * 1024)} MiB`;
    return [
      {
        name: 'browser',
        rows: [
          ...rows('setup', 'ms', setupMs, NODE, { [TAB]: 'Chromium tab, connectToNode() to a Node node; then disconnect()' }),
          ...rows(`throughput ${label}, 64 KiB messages`, 'MB/s', mbps, NODE, { [TO_TAB]: 'the tab counts the bytes of data$', [TAB_TO_TAB]: 'two tabs of one Chromium: its own data channels at both ends', [RAW_TABS]: 'two tabs, bare RTCPeerConnection and one data channel, the same 4 MiB mark (bench/rawTabs.ts)' }),
          ...rows(`tab → Node ${label}`, 'MB/s', files, 'tab send()', { 'tab sendFile(Blob)': 'SHA-256 at both ends (@noble in the tab), the Blob read 1 MiB at a time' }),
        ],
      },
    ];
  } finally {
    await browser.close();
    for (const child of processes) child.kill();
    network.remove();
  }
}
