/**
 * Section 4's hub: ONE node in its own process that opens connections to many far nodes (held by
 * manyFar.ts processes), reports setup times, memory and the bytes it receives. Started by
 * bench/manyPeers.ts with `node --expose-gc --import tsx`; bounded by boundChild().
 */
import { readdirSync } from 'node:fs';
import { createNode, loopbackOnly } from '../../src/index.js';
import { boundChild, collect, now, serve } from '../child.js';
import {
  cpuMs,
  usage,
  type ConnectResult,
  type HubRequest,
  type Ready,
  type ReceiveResult,
} from './manyProtocol.js';

const config = JSON.parse(process.argv[2] ?? '{}') as { signalingUrl: string; deadlineMs: number };
boundChild('manyHub', config.deadlineMs);

const node = createNode({ signalingUrl: config.signalingUrl, candidateFilter: loopbackOnly });
let received = 0;
const dropped: string[] = [];
const waiters = new Set<() => void>();
/** When each peer's latest message arrived (performance.now()). */
const lastFrom = new Map<string, number>();
node.data$.subscribe(({ from, data }) => {
  received += typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  lastFrom.set(from, performance.now());
  for (const check of waiters) check();
});
node.peerEvents$.subscribe((e) => {
  if (e.type === 'closed' && e.wasConnected) dropped.push(e.id);
});

async function timed(peer: string): Promise<number> {
  const t0 = performance.now();
  await node.connectToNode(peer);
  return performance.now() - t0;
}

async function connectAll(ids: string[], window: number): Promise<ConnectResult> {
  const setupMs: number[] = [];
  const connected: string[] = [];
  const errors: string[] = [];
  let peakFds = 0;
  const sampleFds = (): void => void (peakFds = Math.max(peakFds, readdirSync('/proc/self/fd').length));
  const sampler = setInterval(sampleFds, 50);
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const peer = ids[next++]!;
      try {
        setupMs.push(await timed(peer));
        connected.push(peer);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(window, ids.length)) }, worker));
  const totalMs = performance.now() - t0;
  clearInterval(sampler);
  sampleFds();
  return { setupMs, connected, totalMs, errors, peakFds };
}

function receive(target: number, timeoutMs: number): Promise<ReceiveResult> {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  return new Promise((resolve) => {
    const finish = (complete: boolean): void => {
      waiters.delete(check);
      clearTimeout(timer);
      const perPeerMs = [...lastFrom.values()].filter((t) => t >= t0).map((t) => t - t0).sort((a, b) => a - b);
      resolve({ doneAt: now(), total: received, complete, cpuMs: cpuMs(cpu), perPeerMs });
    };
    const check = (): void => {
      if (received >= target) finish(true);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    waiters.add(check);
    check();
  });
}

serve<HubRequest>(async (req) => {
  switch (req.cmd) {
    case 'connect':
      return connectAll(req.ids, req.window);
    case 'connectOne':
      return timed(req.peer);
    case 'disconnect':
      return node.disconnect(req.peer);
    case 'measure':
      await collect(1000);
      return usage(dropped);
    case 'receive':
      return receive(req.total, req.timeoutMs);
    default:
      throw new Error(`unknown command ${(req as { cmd: string }).cmd}`);
  }
});

await node.start();
await collect(200);
process.send!({ ready: true, ids: [node.nodeId], usage: usage(dropped) } satisfies Ready);
