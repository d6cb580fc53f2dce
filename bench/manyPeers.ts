/**
 * Section 4, many peers: one node (the hub, in its own process) holding 10, 50 and 100 simultaneous
 * connections. Far ends live in other processes (bench/peers/manyFar.ts, at most PER_FAR nodes each);
 * the signaling server runs here, in the orchestrating process, with its per-connection rate limit
 * raised so it does not pace the hub (see RATE_LIMIT). A fresh hub and fresh far processes per level.
 *
 * Per level N:
 *  1. the hub connects to N-1 far nodes, calling `connectToNode` for all of them at once by default
 *     (the node itself negotiates `maxNegotiations`, 10, at a time); `--window=N` keeps at most N
 *     calls in flight from the outside instead;
 *  2. then it connects the N-th alone, timed ("last setup"); this is repeated `lastReps` times with
 *     spare far nodes, disconnecting the spare between repetitions, so the hub holds N at the end;
 *  3. RSS per peer = (hub RSS with N peers − hub RSS before any, both after a full GC) / N;
 *  4. all N far nodes send to the hub at once (`aggregateBytes` split evenly, 64 KiB messages);
 *     aggregate throughput = bytes / (last byte at the hub − send command issued here).
 *
 * Standalone: tsx bench/manyPeers.ts [--smoke] [--window=N] [--levels=10,50,100]
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSignalingServer } from '../src/index.js';
import { Child, now } from './child.js';
import { LOOPBACK_CROWD } from './serverLimits.js';
import type { BenchOptions, BenchRow, BenchSection } from './types.js';
import {
  type ConnectResult,
  type FarRequest,
  type HubRequest,
  type Ready,
  type ReceiveResult,
  type SendResult,
  type Usage,
  udpDrops,
} from './peers/manyProtocol.js';

const SELF = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(SELF), '..');
const HUB = resolve(ROOT, 'bench/peers/manyHub.ts');
const FAR = resolve(ROOT, 'bench/peers/manyFar.ts');
/** Far nodes per far process. */
const PER_FAR = 25;
/** Raised for the bench (default 100/s, burst 200 per connection) so the server never paces the hub. */
const RATE_LIMIT = { perSecond: 5000, burst: 10_000 };
const MESSAGE_SIZE = 64 * 1024;
/** A window larger than any level: every connectToNode at once. */
const ALL = 1_000_000;
const MB = 1e6;

interface Plan {
  levels: number[];
  window: number;
  lastReps: number;
  aggregateBytes: number;
  sendRounds: number;
  /** Each child process exits on its own after this long. */
  childDeadlineMs: number;
}

function plan(smoke: boolean, argv: string[] = []): Plan {
  const arg = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const base: Plan = smoke
    ? { levels: [10], window: ALL, lastReps: 1, aggregateBytes: 8 * 1024 * 1024, sendRounds: 1, childDeadlineMs: 30_000 }
    : { levels: [10, 50, 100], window: ALL, lastReps: 3, aggregateBytes: 64 * 1024 * 1024, sendRounds: 3, childDeadlineMs: 90_000 };
  if (arg('window')) base.window = Number(arg('window'));
  if (arg('levels')) base.levels = arg('levels')!.split(',').map(Number);
  return base;
}


interface LevelResult {
  peers: number;
  processes: number;
  batch: ConnectResult;
  lastMs: number[];
  lastErrors: string[];
  before: Usage;
  after: Usage;
  end: Usage | undefined;
  throughputMBps: number[];
  bytesPerRound: number;
  sendErrors: string[];
  /** Per send round: duration, and CPU used by the hub and by all far processes together. */
  rounds: { seconds: number; hubCpuMs: number; farCpuMs: number; peerP50Ms: number; peerMaxMs: number; udpRcvbufErrors: number }[];
  crashes: string[];
  /** Connections that closed unasked, seen by the hub / by the far ends (the hub's own disconnects of spares excluded). */
  hubDropped: number;
  farDropped: number;
  error?: string;
}

function split(total: number, per: number): number[] {
  const processes = Math.ceil(total / per);
  return Array.from({ length: processes }, (_, i) => Math.floor(total / processes) + (i < total % processes ? 1 : 0));
}

async function level(url: string, n: number, p: Plan): Promise<LevelResult> {
  const spares = p.lastReps;
  const counts = split(n - 1 + spares, PER_FAR);
  const hub = new Child<HubRequest, Ready>('hub', HUB, { signalingUrl: url, deadlineMs: p.childDeadlineMs });
  const fars = counts.map((count, i) => new Child<FarRequest, Ready>(`far${i}`, FAR, { signalingUrl: url, count, deadlineMs: p.childDeadlineMs }));
  const result: LevelResult = {
    peers: n,
    processes: fars.length,
    batch: { setupMs: [], connected: [], totalMs: Number.NaN, errors: [], peakFds: Number.NaN },
    lastMs: [],
    lastErrors: [],
    before: { rssBytes: Number.NaN, fds: Number.NaN, threads: Number.NaN, dropped: [] },
    after: { rssBytes: Number.NaN, fds: Number.NaN, threads: Number.NaN, dropped: [] },
    end: undefined,
    throughputMBps: [],
    bytesPerRound: 0,
    sendErrors: [],
    rounds: [],
    crashes: [],
    hubDropped: 0,
    farDropped: 0,
  };
  try {
    const [hubReady, ...farReady] = await Promise.all([hub.ready, ...fars.map((f) => f.ready)]);
    const hubId = hubReady!.ids[0]!;
    const farIds = farReady.flatMap((r) => r.ids);
    const first = farIds.slice(0, n - 1);
    const spareIds = farIds.slice(n - 1);
    result.before = await hub.request<Usage>({ cmd: 'measure' }, 10_000);

    result.batch = await hub.request<ConnectResult>({ cmd: 'connect', ids: first, window: p.window }, p.childDeadlineMs);
    let last: string | undefined;
    const disconnected = new Set<string>();
    for (const [i, spare] of spareIds.entries()) {
      try {
        result.lastMs.push(await hub.request<number>({ cmd: 'connectOne', peer: spare }, 30_000));
        last = spare;
        if (i < spareIds.length - 1) {
          disconnected.add(spare);
          await hub.request({ cmd: 'disconnect', peer: spare }, 10_000);
          last = undefined;
        }
      } catch (err) {
        result.lastErrors.push((err as Error).message);
      }
    }
    result.after = await hub.request<Usage>({ cmd: 'measure' }, 10_000);

    const senders = [...result.batch.connected, ...(last ? [last] : [])];
    const bytesPerNode = Math.max(MESSAGE_SIZE, Math.round(p.aggregateBytes / n / 1024) * 1024);
    result.bytesPerRound = bytesPerNode * senders.length;
    let expected = 0;
    for (let round = 0; round < p.sendRounds; round++) {
      expected += result.bytesPerRound;
      const received = hub.request<ReceiveResult>({ cmd: 'receive', total: expected, timeoutMs: 60_000 }, 65_000);
      const udp = udpDrops();
      const t0 = now();
      const sent = fars.map((f) =>
        f.request<SendResult>({ cmd: 'send', from: senders, to: hubId, bytesPerNode, messageSize: MESSAGE_SIZE }, 65_000),
      );
      const [r, ...s] = await Promise.all([received, ...sent]);
      const rr = r as ReceiveResult;
      for (const x of s as SendResult[]) result.sendErrors.push(...x.errors);
      if (!rr.complete) {
        result.sendErrors.push(`round ${round}: hub received ${rr.total - (expected - result.bytesPerRound)} of ${result.bytesPerRound} bytes`);
        expected = rr.total;
        continue;
      }
      const seconds = (rr.doneAt - t0) / 1000;
      result.throughputMBps.push(result.bytesPerRound / MB / seconds);
      const peerMs = rr.perPeerMs;
      result.rounds.push({
        seconds,
        hubCpuMs: rr.cpuMs,
        farCpuMs: (s as SendResult[]).reduce((sum, x) => sum + x.cpuMs, 0),
        peerP50Ms: peerMs[peerMs.length >> 1] ?? Number.NaN,
        peerMaxMs: peerMs.at(-1) ?? Number.NaN,
        udpRcvbufErrors: udpDrops().rcvbufErrors - udp.rcvbufErrors,
      });
    }
    result.end = await hub.request<Usage>({ cmd: 'measure' }, 10_000);
    const farUsage = await Promise.all(fars.map((f) => f.request<Usage>({ cmd: 'measure' }, 10_000)));
    const unasked = (ids: string[]): number => ids.filter((id) => !disconnected.has(id)).length;
    result.hubDropped = unasked(result.end.dropped);
    result.farDropped = unasked(farUsage.flatMap((u) => u.dropped));
  } catch (err) {
    result.error = (err as Error).message;
  } finally {
    // The hub first: far ends then only see their peer vanish while they are exiting anyway.
    const reasons = [await hub.stop(), ...(await Promise.all(fars.map((f) => f.stop())))];
    result.crashes = reasons.filter((r) => r !== '');
  }
  return result;
}

export async function run(options: BenchOptions, argv: string[] = []): Promise<BenchSection[]> {
  const p = plan(options.smoke, argv);
  const started = performance.now();
  const server = await createSignalingServer({ port: 0, rateLimit: RATE_LIMIT, ...LOOPBACK_CROWD });
  const results: LevelResult[] = [];
  try {
    for (const n of p.levels) results.push(await level(server.url, n, p));
  } finally {
    await server.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const { percentile, rows, round } = await import('./stats.js');

  const name = (r: LevelResult): string => `${r.peers} peers`;
  const baseline = name(results[0]!);
  const by = (f: (r: LevelResult) => number[]): Record<string, number[]> => Object.fromEntries(results.map((r) => [name(r), f(r)]));
  const notes = (f: (r: LevelResult) => string): Record<string, string> => Object.fromEntries(results.map((r) => [name(r), f(r)]));
  const errorsOf = (r: LevelResult): string[] => [
    ...r.batch.errors,
    ...r.lastErrors,
    ...r.sendErrors,
    ...r.crashes,
    ...(r.error ? [r.error] : []),
    ...(r.hubDropped > 0 ? [`hub saw ${r.hubDropped} connected peers close unasked`] : []),
    ...(r.farDropped > 0 ? [`far ends saw ${r.farDropped} connections close unasked before teardown`] : []),
  ];
  const errorNote = (r: LevelResult): string => {
    const e = errorsOf(r);
    return `errors ${e.length}${e.length ? `: ${[...new Set(e)].slice(0, 3).join('; ')}` : ''}`;
  };
  const perPeer = (r: LevelResult, k: 'rssBytes' | 'fds' | 'threads'): number => (r.after[k] - r.before[k]) / r.peers;

  const sectionRows: BenchRow[] = [
    ...rows('last setup', 'ms', by((r) => r.lastMs), baseline, notes((r) =>
      `the ${r.peers}th connection alone while holding ${r.peers - 1}, ${r.lastMs.length} repetition(s); ${errorNote(r)}`,
    )),
    ...rows('connect first N-1, total', 'ms', by((r) => [r.batch.totalMs]), baseline, notes((r) => {
      const s = r.batch.setupMs;
      return `${s.length}/${r.peers - 1} connected, ${p.window === ALL ? 'all requested at once' : `at most ${p.window} requested at a time`}; per-connection setup p50 ${round(percentile(s, 0.5))} ms, p95 ${round(percentile(s, 0.95))} ms, max ${round(Math.max(...s))} ms; hub peak ${r.batch.peakFds} fds while connecting; ${r.batch.errors.length} failed`;
    })),
    ...rows('RSS per peer', 'MB', by((r) => [perPeer(r, 'rssBytes') / MB]), baseline, notes((r) =>
      `hub RSS ${round(r.before.rssBytes / MB)} → ${round(r.after.rssBytes / MB)} MB with ${r.peers} peers` +
      `${r.end ? ` (${round(r.end.rssBytes / MB)} MB after the sends)` : ''}; per peer ${round(perPeer(r, 'fds'))} fds, ${round(perPeer(r, 'threads'))} threads`,
    )),
    ...rows('aggregate throughput', 'MB/s', by((r) => r.throughputMBps), baseline, notes((r) =>
      `${r.peers} far nodes in ${r.processes} processes send ${round(r.bytesPerRound / MB)} MB to the hub at once (64 KiB messages), ${r.throughputMBps.length} round(s)` +
      ` [${r.rounds.map((x) => `${round(x.seconds)} s (per-peer finish p50 ${Math.round(x.peerP50Ms)} ms, last ${Math.round(x.peerMaxMs)} ms), hub CPU ${Math.round(x.hubCpuMs / x.seconds / 10)}%, far CPU ${Math.round(x.farCpuMs / x.seconds / 10)}%, host UDP RcvbufErrors +${x.udpRcvbufErrors}`).join('; ')}]; ${errorNote(r)}`,
    )),
  ];
  const last = sectionRows.at(-1)!;
  last.note = `${last.note}; section took ${round(seconds)} s; signaling rate limit raised to ${RATE_LIMIT.perSecond}/s burst ${RATE_LIMIT.burst}`;
  /** Short name: bench/run.ts keys result files, ordering and titles by it. */
  return [{ name: 'manyPeers', rows: sectionRows }];
}

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  const sections = await run({ smoke: process.argv.includes('--smoke') }, process.argv.slice(2));
  for (const row of sections.flatMap((s) => s.rows)) {
    const { samples, ...rest } = row;
    console.log(JSON.stringify({ ...rest, samples: samples.map((x) => Math.round(x * 100) / 100) }));
  }
  process.exit(0);
}
