/**
 * Bench sections 1, 2 and 5: the data path of one reliable ordered channel between two processes on
 * loopback, for three contenders — bare `@roamhq/wrtc`, bare `simple-peer` on wrtc, and our node's
 * `send()` → `data$` — measured alternately in the same run (A B C A B C …).
 *
 * 1. throughput: N bytes of verified pseudo-random data per message size, parent-timed from the
 *    'send' command to the receiver's "all verified" report.
 * 2. rtt: sequential 64 B ping/echo, p50/p99 per round.
 * 5. observability: our node at 256 KiB with nothing, with `transitions$` subscribed, and with the
 *    live inspector server started and an SSE client attached to it.
 *
 * Each contender is a pair of child processes (`bench/peers/*.ts`); bare contenders signal through
 * the parent (stdin/stdout JSON lines), ours through a real `createSignalingServer` on 127.0.0.1.
 * Set BENCH_CPU_PROF=<dir> to run the children with `--cpu-prof` into that directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { get as httpGet, type ClientRequest } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createSignalingServer, type SignalingServer } from '../src/index.js';
import { cpuMs, udpDrops } from './procStats.js';
import { percentile, rows, summarize } from './stats.js';
import type { BenchOptions, BenchRow, BenchSection } from './types.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const MB = 1e6;

export interface DatapathOptions extends BenchOptions {
  /** Which of 'throughput', 'rtt', 'observability' to run; all by default. */
  sections?: string[];
  log?: (line: string) => void;
}

type Event = { ev: string; [key: string]: unknown };

const peersDir = fileURLToPath(new URL('./peers/', import.meta.url));

/** One child process speaking JSON lines. */
class Child {
  readonly process: ChildProcess;
  readonly #waiters: { ev: string; resolve: (e: Event) => void; reject: (err: Error) => void }[] = [];
  readonly #backlog: Event[] = [];
  onEvent: (event: Event) => void = () => {};
  #exited: Error | undefined;
  stderr = '';

  constructor(script: string, args: string[], readonly label: string, env?: Record<string, string>) {
    const nodeArgs = ['--import', 'tsx'];
    const profDir = process.env.BENCH_CPU_PROF;
    if (profDir) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profDir}`); // default names (pid + thread): tsx's loader thread writes one too
    this.process = spawn(process.execPath, [...nodeArgs, `${peersDir}${script}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    createInterface({ input: this.process.stdout! }).on('line', (line) => {
      let event: Event;
      try {
        event = JSON.parse(line) as Event;
      } catch {
        this.stderr += `${line}\n`;
        return;
      }
      if (event.ev === 'error') this.stderr += `${String(event.message)}\n`;
      const index = this.#waiters.findIndex((w) => w.ev === event.ev);
      if (index >= 0) this.#waiters.splice(index, 1)[0]!.resolve(event);
      else if (['signal', 'transitions'].includes(event.ev)) this.onEvent(event);
      else this.#backlog.push(event);
    });
    this.process.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    this.process.on('exit', (code, signal) => {
      this.#exited = new Error(`${label} exited (${code ?? signal})${this.stderr ? `: ${this.stderr.trim().slice(-600)}` : ''}`);
      for (const w of this.#waiters.splice(0)) w.reject(this.#exited);
    });
  }

  send(command: Record<string, unknown>): void {
    if (!this.#exited) this.process.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  /** The next event named `ev` (or one that already arrived), failing on exit, 'error' or timeout. */
  next(ev: string, timeoutMs: number): Promise<Event> {
    const index = this.#backlog.findIndex((e) => e.ev === ev);
    if (index >= 0) return Promise.resolve(this.#backlog.splice(index, 1)[0]!);
    if (this.#exited) return Promise.reject(this.#exited);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new Error(`${this.label}: no '${ev}' within ${timeoutMs} ms${this.stderr ? `: ${this.stderr.trim().slice(-600)}` : ''}`));
      }, timeoutMs);
      const waiter = {
        ev,
        resolve: (e: Event) => {
          clearTimeout(timer);
          resolve(e);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  async close(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.send({ cmd: 'close' });
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

export interface Transfer {
  mbps: number;
  cpuMs: number;
  jsCpuMs: number;
  drops: number;
  error?: string;
}
const FAILED: Transfer = { mbps: Number.NaN, cpuMs: Number.NaN, jsCpuMs: Number.NaN, drops: Number.NaN };

export interface ContenderSpec {
  name: string;
  script: string;
  config?: Record<string, unknown>;
  /** Our node: signaling through the server instead of the parent relay. */
  node?: boolean;
  /** Extra environment of both processes (section 10's LD_PRELOAD shim). */
  env?: Record<string, string>;
  note: string;
}

/** A connected sender/receiver pair of one contender. */
export class Pair {
  readonly sender: Child;
  readonly receiver: Child;
  readonly #sse: ClientRequest[] = [];
  sseBytes = 0;

  constructor(readonly spec: ContenderSpec, signalingUrl: string) {
    const config = JSON.stringify({ ...spec.config, signalingUrl });
    this.sender = new Child(spec.script, ['sender', config], `${spec.name} sender`, spec.env);
    this.receiver = new Child(spec.script, ['receiver', config], `${spec.name} receiver`, spec.env);
    if (!spec.node) {
      // The minimal relay: whatever one side signals goes to the other, in order.
      this.sender.onEvent = (e) => e.ev === 'signal' && this.receiver.send({ cmd: 'signal', data: e.data });
      this.receiver.onEvent = (e) => e.ev === 'signal' && this.sender.send({ cmd: 'signal', data: e.data });
    }
  }

  async connect(): Promise<void> {
    if (this.spec.node) {
      const [s, r] = await Promise.all([this.sender.next('id', 60_000), this.receiver.next('id', 60_000)]);
      this.receiver.send({ cmd: 'peer', peer: s.id });
      this.sender.send({ cmd: 'connect', peer: r.id });
      for (const url of [s.inspectorUrl, r.inspectorUrl]) if (typeof url === 'string') this.#attach(url);
    }
    await Promise.all([this.sender.next('open', 60_000), this.receiver.next('open', 60_000)]);
  }

  /** An inspector page's event stream, read and discarded like a browser tab would. */
  #attach(url: string): void {
    const req = httpGet(`${url}events`, (res) => res.on('data', (chunk: Buffer) => (this.sseBytes += chunk.length)));
    req.on('error', () => {});
    this.#sse.push(req);
  }

  /**
   * Transfers `count` messages of `size` bytes: MB/s, CPU ms per 100 MB (both processes, all
   * threads, and their main JS threads alone), and the UDP drops seen meanwhile (NaN and a reason
   * when it failed).
   */
  async transfer(size: number, count: number): Promise<Transfer> {
    const timeout = 30_000 + (size * count) / (2 * MB) * 1000; // ≥ 2 MB/s or give up
    try {
      this.receiver.send({ cmd: 'expect', size, count });
      await this.receiver.next('ready', 10_000);
      const cpuBefore = this.#cpu();
      const dropsBefore = udpDrops();
      const started = performance.now();
      const done = this.receiver.next('done', timeout);
      this.sender.send({ cmd: 'send', size, count });
      const result = await done;
      const ms = performance.now() - started;
      const dropped = udpDrops() - dropsBefore;
      const cpu = this.#cpu();
      await this.sender.next('sent', 10_000);
      if (!result.ok) return { ...FAILED, error: String(result.message) };
      const per100MB = (100 * MB) / (size * count);
      return {
        mbps: (size * count) / MB / (ms / 1000),
        cpuMs: (cpu.total - cpuBefore.total) * per100MB,
        jsCpuMs: (cpu.main - cpuBefore.main) * per100MB,
        drops: dropped,
      };
    } catch (err) {
      return { ...FAILED, error: (err as Error).message };
    }
  }

  #cpu(): { total: number; main: number } {
    const [s, r] = [cpuMs(this.sender.process.pid ?? 0), cpuMs(this.receiver.process.pid ?? 0)];
    return { total: s.total + r.total, main: s.main + r.main };
  }

  async pings(count: number): Promise<{ samples: number[]; error?: string }> {
    try {
      this.receiver.send({ cmd: 'echo' });
      await this.receiver.next('ready', 10_000);
      this.sender.send({ cmd: 'ping', size: 64, count });
      const result = await this.sender.next('pings', 30_000 + count * 20);
      const bad = Number(result.bad);
      return { samples: result.samples as number[], ...(bad ? { error: `${bad} echoes did not match` } : {}) };
    } catch (err) {
      return { samples: [], error: (err as Error).message };
    }
  }

  async close(): Promise<void> {
    for (const req of this.#sse) req.destroy();
    await Promise.all([this.sender.close(), this.receiver.close()]);
  }
}

export const BARE_WRTC: ContenderSpec = {
  name: 'bare wrtc',
  script: 'wrtc.ts',
  note: 'RTCDataChannel.send(); >256 KiB as 256 KiB chunks; bufferedAmount ≤ 4 MiB, polled with setTimeout(0)',
};
export const BARE_SIMPLE_PEER: ContenderSpec = {
  name: 'bare simple-peer',
  script: 'simplePeer.ts',
  note: "peer.send() + 'data'; >256 KiB as 256 KiB chunks; _channel.bufferedAmount ≤ 4 MiB, polled with setTimeout(0)",
};
export const OURS: ContenderSpec = {
  name: 'p2p-dht-node',
  script: 'node.ts',
  node: true,
  note: 'await node.send() → data$: messages packed into 256 KiB channel messages, send() resolving once within the 4 MiB high-water mark (bufferedAmount read only when the count of bytes sent says it may be full, polled every 2 ms)',
};

interface SizePlan {
  label: string;
  size: number;
  bytes: number;
}

function plan(smoke: boolean): { sizes: SizePlan[]; rounds: number; rttRounds: number; pings: number; obsRounds: number; obsBytes: number } {
  // 7 alternated rounds of 60 MB rather than 5 of 100 MB: the same bytes, and a median of 7 is less
  // at the mercy of the loss episodes that halve any contender's rate for a sample (procStats.ts).
  const big = smoke ? 8 * MB : 60 * MB;
  const sizes: SizePlan[] = [
    { label: '1 KiB', size: KiB, bytes: smoke ? 1 * MB : 16 * MB },
    { label: '16 KiB', size: 16 * KiB, bytes: smoke ? 4 * MB : big },
    { label: '64 KiB', size: 64 * KiB, bytes: smoke ? 4 * MB : big },
    { label: '256 KiB', size: 256 * KiB, bytes: big },
    { label: '4 MiB', size: 4 * MiB, bytes: big },
  ];
  return { sizes, rounds: smoke ? 1 : 7, rttRounds: smoke ? 1 : 5, pings: smoke ? 200 : 10_000, obsRounds: smoke ? 1 : 7, obsBytes: big };
}

export async function openPairs(specs: ContenderSpec[], signalingUrl: string): Promise<Pair[]> {
  const pairs = specs.map((spec) => new Pair(spec, signalingUrl));
  try {
    await Promise.all(pairs.map((pair) => pair.connect()));
  } catch (err) {
    await Promise.all(pairs.map((pair) => pair.close()));
    throw err;
  }
  return pairs;
}

/**
 * `rounds` rounds of `count` × `size` bytes through every pair, alternated (A B C A B C …), as rows:
 * MB/s and CPU ms per 100 MB by contender, ratios to `baseline`, the UDP drops seen in the notes.
 */
export async function alternatedTransfers(
  pairs: Pair[],
  { size, count, rounds, label, baseline, describe }: { size: number; count: number; rounds: number; label: string; baseline: string; describe: (name: string) => string },
  log: (line: string) => void,
): Promise<BenchRow[]> {
  const results: Record<string, Transfer[]> = Object.fromEntries(pairs.map((pair) => [pair.spec.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const pair of pairs) {
      const t = await pair.transfer(size, count);
      results[pair.spec.name]!.push(t);
      log(
        `  ${label} round ${round + 1} ${pair.spec.name}: ${t.error ? `FAILED ${t.error.slice(0, 300)}` : `${t.mbps.toFixed(1)} MB/s, ${t.cpuMs.toFixed(0)} CPU ms per 100 MB, ${t.drops} UDP drops`}`,
      );
    }
  }
  const column = (key: 'mbps' | 'cpuMs' | 'jsCpuMs'): Record<string, number[]> =>
    Object.fromEntries(Object.entries(results).map(([name, ts]) => [name, ts.map((t) => t[key])]));
  const notes = Object.fromEntries(
    Object.entries(results).map(([name, ts]) => {
      const drops = summarize(ts.map((t) => t.drops));
      const errors = ts.flatMap((t) => (t.error ? [t.error.slice(0, 200)] : []));
      const bytes = `${count} × ${label} = ${((count * size) / MB).toFixed(0)} MB per sample`;
      return [name, [describe(name), bytes, `UDP receive-buffer drops per sample: median ${drops.median}, ${drops.min}–${drops.max}`, ...errors].filter(Boolean).join('; ')];
    }),
  );
  return [
    ...rows(`throughput ${label}`, 'MB/s', column('mbps'), baseline, notes),
    ...rows(`CPU per 100 MB, ${label}`, 'ms', column('cpuMs'), baseline),
    ...rows(`JS thread CPU per 100 MB, ${label}`, 'ms', column('jsCpuMs'), baseline),
  ];
}

export async function run(options: DatapathOptions): Promise<BenchSection[]> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const wanted = new Set(options.sections ?? ['throughput', 'rtt', 'observability']);
  const { sizes, rounds, rttRounds, pings, obsRounds, obsBytes } = plan(options.smoke);
  const server: SignalingServer = await createSignalingServer({ port: 0, host: '127.0.0.1' });
  const sections: BenchSection[] = [];
  try {
    if (wanted.has('throughput') || wanted.has('rtt')) {
      const specs = [BARE_WRTC, BARE_SIMPLE_PEER, OURS];
      const pairs = await openPairs(specs, server.url);
      try {
        // Warm-up, not recorded: JIT, SCTP congestion window, allocator.
        for (const pair of pairs) await pair.transfer(256 * KiB, options.smoke ? 8 : 32);
        if (wanted.has('throughput')) {
          const result: BenchRow[] = [];
          for (const { label, size, bytes } of sizes) {
            const count = Math.max(1, Math.round(bytes / size));
            const describe = (): string => 'every byte verified';
            result.push(...(await alternatedTransfers(pairs, { size, count, rounds, label, baseline: BARE_SIMPLE_PEER.name, describe }, log)));
          }
          sections.push({ name: 'throughput', rows: result });
        }
        if (wanted.has('rtt')) {
          const p50: Record<string, number[]> = Object.fromEntries(specs.map((s) => [s.name, []]));
          const p99: Record<string, number[]> = Object.fromEntries(specs.map((s) => [s.name, []]));
          const errors: Record<string, string[]> = Object.fromEntries(specs.map((s) => [s.name, []]));
          for (let round = 0; round < rttRounds; round++) {
            for (const pair of pairs) {
              const { samples, error } = await pair.pings(pings);
              if (error) errors[pair.spec.name]!.push(error.slice(0, 200));
              p50[pair.spec.name]!.push(samples.length ? percentile(samples, 0.5) : Number.NaN);
              p99[pair.spec.name]!.push(samples.length ? percentile(samples, 0.99) : Number.NaN);
              log(`  rtt round ${round + 1} ${pair.spec.name}: p50 ${percentile(samples, 0.5).toFixed(3)} ms, p99 ${percentile(samples, 0.99).toFixed(3)} ms${error ? ` (${error})` : ''}`);
            }
          }
          const notes = Object.fromEntries(
            specs.map((s) => [s.name, [`${pings} sequential 64 B ping/echo per round; samples are per-round percentiles`, ...errors[s.name]!].join('; ')]),
          );
          sections.push({
            name: 'rtt',
            rows: [...rows('rtt 64 B p50', 'ms', p50, BARE_SIMPLE_PEER.name, notes), ...rows('rtt 64 B p99', 'ms', p99, BARE_SIMPLE_PEER.name, notes)],
          });
        }
      } finally {
        await Promise.all(pairs.map((pair) => pair.close()));
      }
    }
    if (wanted.has('observability')) {
      const specs: ContenderSpec[] = [
        { ...OURS, name: 'node (nothing)' },
        { ...OURS, name: 'node + transitions$', config: { transitions: true } },
        { ...OURS, name: 'node + inspector', config: { inspect: true } },
      ];
      const pairs = await openPairs(specs, server.url);
      try {
        const size = 256 * KiB;
        const count = Math.round(obsBytes / size);
        for (const pair of pairs) await pair.transfer(size, options.smoke ? 8 : 32);
        const described: Record<string, string> = {
          'node (nothing)': 'no subscriber, no inspector',
          'node + transitions$': 'transitions$ subscribed on both nodes',
          'node + inspector': 'inspect: { port: 0 } on both nodes, an SSE client attached to each /events',
        };
        const obsPlan = { size, count, rounds: obsRounds, label: '256 KiB', baseline: 'node (nothing)', describe: (name: string) => described[name]! };
        sections.push({ name: 'observability', rows: await alternatedTransfers(pairs, obsPlan, log) });
      } finally {
        await Promise.all(pairs.map((pair) => pair.close()));
      }
    }
  } finally {
    await server.close();
  }
  return sections;
}

export const contenderNotes = { [BARE_WRTC.name]: BARE_WRTC.note, [BARE_SIMPLE_PEER.name]: BARE_SIMPLE_PEER.note, [OURS.name]: OURS.note };
