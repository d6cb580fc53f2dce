/**
 * Section 6, signaling under load: 1 000 and 10 000 registered clients, spread over a few client
 * processes, register and then relay offer/answer/candidate sessions through
 *  - the PeerJS server (`peer`, the baseline), with its own protocol;
 *  - bench/relay.ts, bare Socket.IO forwarding by socket id (no registration, checks, limits or acks):
 *    what Socket.IO alone costs;
 *  - one of our servers (signed registration, an ack for every signal);
 *  - clusters of 1, 2 and 3 of our servers on one Redis (consecutive clients on different servers,
 *    so every signal crosses servers);
 *  - a Mosquitto 2.0 broker, spoken to in MQTT 5 over WebSocket as our node signals through one
 *    (docs/protocol.md §17): subscribe, signed retained presence, envelopes published at QoS 1.
 * Every server runs in its own process (bench/peers/signalingHost.ts), every client process
 * (bench/peers/signalingLoad.ts) speaks the wire protocol itself. Contenders alternate within each
 * round. Loopback only; every child exits by itself after a deadline.
 *
 * Measured per run: registrations/s (all clients connecting and proving themselves, a bounded number
 * in flight per process); relay latency p50/p99 at a fixed offered load the same for everyone;
 * relayed messages/s flat out (a fixed number of sessions in flight); server RSS per connected
 * client (after full collections, between half and all of the clients registered); server CPU per
 * relayed message (Redis included for clusters).
 *
 * Standalone: tsx bench/signaling.ts [--smoke] [--contender=<name>]… [--clients=<n>]… [--rounds=<n>]; or `npm run bench:signaling` for the docs table.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from '../test/cluster/processes.js';
import { Child, now } from './child.js';
import type { Dialect, HostConfig, HostMemory, HostReady, HostRequest, LoadConfig, LoadRequest, RegisterResult, RelayPlan, RelayResult } from './peers/signalingProtocol.js';
import { cpuMs } from './procStats.js';
import { percentile, round, rows } from './stats.js';
import type { BenchOptions, BenchRow, BenchSection } from './types.js';

const SELF = fileURLToPath(import.meta.url);
const HOST = resolve(SELF, '../peers/signalingHost.ts');
const LOAD = resolve(SELF, '../peers/signalingLoad.ts');

/** Children are ready in 1–3 s; one that is not in 20 s is stuck, and its run is tried again. */
const READY_TIMEOUT_MS = 20_000;

interface Contender {
  name: string;
  dialect: Dialect;
  servers: number;
  clustered: boolean;
}

const BASELINE = 'PeerJS server 1.0.2';
const CONTENDERS: Contender[] = [
  { name: BASELINE, dialect: 'peerjs', servers: 1, clustered: false },
  { name: 'bare Socket.IO relay', dialect: 'bare', servers: 1, clustered: false },
  { name: 'p2p-dht-node', dialect: 'ours', servers: 1, clustered: false },
  ...[1, 2, 3].map((servers) => ({ name: `cluster of ${servers}`, dialect: 'ours' as const, servers, clustered: true })),
  { name: 'Mosquitto 2.0 (MQTT)', dialect: 'mqtt', servers: 1, clustered: false },
];

interface Plan {
  clients: number[];
  rounds: number;
  loadProcesses: number;
  handshakeWindow: number;
  pacedRate: number;
  flatWindow: number;
  warmupMs: number;
  durationMs: number;
  deadlineMs: number;
}

const plan = (smoke: boolean): Plan =>
  smoke
    ? { clients: [200], rounds: 1, loadProcesses: 2, handshakeWindow: 32, pacedRate: 500, flatWindow: 32, warmupMs: 300, durationMs: 1000, deadlineMs: 120_000 }
    : { clients: [1000, 10_000], rounds: 3, loadProcesses: 4, handshakeWindow: 64, pacedRate: 2000, flatWindow: 64, warmupMs: 1000, durationMs: 5000, deadlineMs: 600_000 };

/** What one run of one contender measured; NaN where it failed. */
interface RunResult {
  registrationsPerSecond: number;
  /** Server CPU per registration (Redis included), in µs. */
  registrationCpuUs: number;
  flatPerSecond: number;
  pacedP50: number;
  pacedP99: number;
  flatP50: number;
  flatP99: number;
  rssPerClientKB: number;
  heapPerClientKB: number;
  serverCpuUsPerMessage: number;
  redisCpuUsPerMessage: number;
  /**
   * Derived, not measured: the relay rate if every server process had a core of its own, from the CPU
   * each message cost them (servers × 10⁶ / their µs per message), capped by Redis's one core.
   */
  coreCapacity: number;
  clientCpuShare: number;
  problems: string[];
  /** Why earlier tries of this run failed (they are retried once). */
  retriedAfter?: string[];
}

/** Client counts per load process: even (clients come in pairs), as equal as possible. */
function split(clients: number, processes: number): number[] {
  const pairs = clients / 2;
  return Array.from({ length: processes }, (_, i) => 2 * (Math.floor(pairs / processes) + (i < pairs % processes ? 1 : 0)));
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Losses, refusals and stray deliveries of one relay phase, as lines for the notes (none when clean). */
function problemsOf(phase: string, results: RelayResult[]): string[] {
  const out: string[] = [];
  const lost = sum(results.map((r) => r.lost));
  const unexpected = sum(results.map((r) => r.unexpected));
  const skipped = sum(results.map((r) => r.skipped));
  const refused: Record<string, number> = {};
  for (const r of results) for (const [code, count] of Object.entries(r.refused)) refused[code] = (refused[code] ?? 0) + count;
  if (lost) out.push(`${phase}: ${lost} lost`);
  if (unexpected) out.push(`${phase}: ${unexpected} unexpected deliveries`);
  if (skipped) out.push(`${phase}: ${skipped} sessions not started (all pairs busy)`);
  for (const [code, count] of Object.entries(refused)) out.push(`${phase}: ${count} × ${code}`);
  return out;
}

async function runOnce(contender: Contender, clients: number, p: Plan, redis: Redis | undefined): Promise<RunResult> {
  const hosts = Array.from(
    { length: contender.servers },
    (_, i) =>
      new Child<HostRequest, HostReady>(`host ${i}`, HOST, {
        dialect: contender.dialect,
        ...(contender.clustered ? { redis: redis!.url } : {}),
        serverId: `bench-${i}`,
        deadlineMs: p.deadlineMs,
      } satisfies HostConfig, READY_TIMEOUT_MS),
  );
  const loads: Child<LoadRequest, { clients: number }>[] = [];
  try {
    const urls = (await Promise.all(hosts.map((h) => h.ready))).map((r) => `http://127.0.0.1:${r.port}`);
    let first = 0;
    for (const [i, count] of split(clients, p.loadProcesses).entries()) {
      const config: LoadConfig = { dialect: contender.dialect, urls, first, count, handshakeWindow: p.handshakeWindow, deadlineMs: p.deadlineMs };
      loads.push(new Child(`load ${i}`, LOAD, config, READY_TIMEOUT_MS));
      first += count;
    }
    await Promise.all([...loads.map((l) => l.ready), ...hosts.map((h) => h.request<HostMemory>({ cmd: 'settle' }, 60_000))]);

    const hostCpu = (): Promise<number[]> => Promise.all(hosts.map((h) => h.request<number>({ cmd: 'cpu' }, 10_000)));
    const redisCpu = (): number => (contender.clustered ? cpuMs(redis!.process.pid!).total : 0);
    const memory = (): Promise<HostMemory[]> => Promise.all(hosts.map((h) => h.request<HostMemory>({ cmd: 'measure' }, 30_000)));
    // Registered in two halves with a memory reading between them, so that memory per client is the
    // slope between two warm states, never against a freshly started process.
    const registered: RegisterResult[] = [];
    let seconds = 0;
    let registrationCpu = 0;
    let half: HostMemory[] = [];
    for (const share of [0.5, 1]) {
      const cpuBefore = sum(await hostCpu()) + redisCpu();
      const t0 = now();
      const results = await Promise.all(loads.map((l) => l.request<RegisterResult>({ cmd: 'register', share }, p.deadlineMs)));
      seconds += (Math.max(...results.map((r) => r.doneAt)) - t0) / 1000;
      registrationCpu += sum(await hostCpu()) + redisCpu() - cpuBefore;
      registered.push(...results);
      if (share < 1) half = await memory();
    }
    const secondHalf = sum(registered.slice(loads.length).map((r) => r.registered));
    const ok = sum(registered.map((r) => r.registered));
    const registrationCpuUs = (registrationCpu * 1000) / ok;
    const problems = registered.flatMap((r) => (r.failed ? [`registration: ${r.failed} failed (${r.failures.join('; ')})`] : []));
    const full = await memory();
    const rssPerClientKB = sum(full.map((m, i) => m.rssBytes - half[i]!.rssBytes)) / 1024 / secondHalf;
    const heapPerClientKB = sum(full.map((m, i) => m.heapUsedBytes - half[i]!.heapUsedBytes)) / 1024 / secondHalf;

    const relay = (phase: RelayPlan): Promise<RelayResult[]> =>
      Promise.all(loads.map((l) => l.request<RelayResult>({ cmd: 'relay', ...phase }, phase.warmupMs + phase.durationMs + 30_000)));
    const paced = await relay({ mode: 'paced', messagesPerSecond: p.pacedRate / loads.length, warmupMs: p.warmupMs, durationMs: p.durationMs });
    problems.push(...problemsOf('paced', paced));

    const cpuBefore = await hostCpu();
    const redisBefore = redisCpu();
    const flat = await relay({ mode: 'flat', window: p.flatWindow, warmupMs: p.warmupMs, durationMs: p.durationMs });
    const cpuAfter = await hostCpu();
    const redisUsed = redisCpu() - redisBefore;
    problems.push(...problemsOf('flat out', flat));
    const total = sum(flat.map((r) => r.total));
    const serverCpu = sum(cpuAfter.map((c, i) => c - cpuBefore[i]!));
    const flatLatency = flat.flatMap((r) => r.latencyMs);
    const pacedLatency = paced.flatMap((r) => r.latencyMs);
    return {
      registrationsPerSecond: ok / seconds,
      registrationCpuUs,
      flatPerSecond: sum(flat.map((r) => r.delivered)) / (p.durationMs / 1000),
      pacedP50: percentile(pacedLatency, 0.5),
      pacedP99: percentile(pacedLatency, 0.99),
      flatP50: percentile(flatLatency, 0.5),
      flatP99: percentile(flatLatency, 0.99),
      rssPerClientKB,
      heapPerClientKB,
      serverCpuUsPerMessage: ((serverCpu + redisUsed) * 1000) / total,
      redisCpuUsPerMessage: (redisUsed * 1000) / total,
      coreCapacity: Math.min((hosts.length * 1e6 * total) / (serverCpu * 1000), redisUsed > 0 ? (1e6 * total) / (redisUsed * 1000) : Infinity),
      clientCpuShare: sum(flat.map((r) => r.cpuMs)) / p.durationMs,
      problems,
    };
  } finally {
    await Promise.all([...loads, ...hosts].map((c) => c.stop()));
  }
}

const FAILED: Omit<RunResult, 'problems' | 'retriedAfter'> = {
  registrationsPerSecond: Number.NaN,
  registrationCpuUs: Number.NaN,
  flatPerSecond: Number.NaN,
  pacedP50: Number.NaN,
  pacedP99: Number.NaN,
  flatP50: Number.NaN,
  flatP99: Number.NaN,
  rssPerClientKB: Number.NaN,
  heapPerClientKB: Number.NaN,
  serverCpuUsPerMessage: Number.NaN,
  redisCpuUsPerMessage: Number.NaN,
  coreCapacity: Number.NaN,
  clientCpuShare: Number.NaN,
};

function rowsFor(clients: number, p: Plan, results: Map<string, RunResult[]>): BenchRow[] {
  const metric = (key: keyof Omit<RunResult, 'problems' | 'retriedAfter'>): Record<string, number[]> =>
    Object.fromEntries([...results].map(([name, runs]) => [name, runs.map((r) => r[key])]));
  const notes: Record<string, string> = {};
  for (const [name, runs] of results) {
    const parts = [
      `flat out p50/p99 ${runs.map((r) => `${round(r.flatP50)}/${round(r.flatP99)}`).join(', ')} ms`,
      `JS heap per client ${runs.map((r) => round(r.heapPerClientKB)).join(', ')} KB`,
      `client processes' CPU while flat out ${runs.map((r) => `${round(r.clientCpuShare * 100)}%`).join(', ')} of one core`,
    ];
    if (runs.some((r) => r.redisCpuUsPerMessage > 0)) parts.push(`of which Redis ${runs.map((r) => round(r.redisCpuUsPerMessage)).join(', ')} µs/msg`);
    const problems = [...new Set(runs.flatMap((r) => r.problems))];
    if (problems.length) parts.push(`problems: ${problems.join('; ')}`);
    const retries = runs.flatMap((r) => r.retriedAfter ?? []);
    if (retries.length) parts.push(`runs retried after: ${retries.join('; ')}`);
    notes[name] = `${clients} clients: ${parts.join('; ')}`;
  }
  const n = clients.toLocaleString('en-US');
  return [
    ...rows(`registrations/s, ${n} clients`, 'reg/s', metric('registrationsPerSecond'), BASELINE),
    ...rows(`server CPU per registration, ${n} clients`, 'µs', metric('registrationCpuUs'), BASELINE),
    ...rows(`relayed msgs/s flat out, ${n} clients`, 'msg/s', metric('flatPerSecond'), BASELINE, notes),
    ...rows(`relay p50 at ${p.pacedRate} msg/s, ${n} clients`, 'ms', metric('pacedP50'), BASELINE),
    ...rows(`relay p99 at ${p.pacedRate} msg/s, ${n} clients`, 'ms', metric('pacedP99'), BASELINE),
    ...rows(`server RSS per client, ${n} clients`, 'KB', metric('rssPerClientKB'), BASELINE),
    ...rows(`server CPU per relayed msg, ${n} clients`, 'µs', metric('serverCpuUsPerMessage'), BASELINE),
    ...rows(`msgs/s with a core per server (derived), ${n} clients`, 'msg/s', metric('coreCapacity'), BASELINE),
  ];
}

export async function run({ smoke, only, ...overrides }: BenchOptions & { only?: string[] } & Partial<Plan>): Promise<BenchSection[]> {
  const p = { ...plan(smoke), ...overrides };
  const contenders = CONTENDERS.filter((c) => !only?.length || only.includes(c.name));
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('redis-server not found: the cluster contenders need it (bash scripts/install-redis.sh installs it)');
  }
  const redis = await Redis.start();
  const out: BenchRow[] = [];
  try {
    for (const clients of p.clients) {
      const results = new Map<string, RunResult[]>(contenders.map((c) => [c.name, []]));
      for (let round_ = 0; round_ < p.rounds; round_++) {
        for (const contender of contenders) {
          const started = performance.now();
          let result: RunResult | undefined;
          const failures: string[] = [];
          // One more try after a failed run, with the failure kept in the notes: a child can fail to start.
          while (!result && failures.length < 2) {
            try {
              result = await runOnce(contender, clients, p, redis);
              result.retriedAfter = failures;
            } catch (err) {
              failures.push((err as Error).message);
            }
          }
          result ??= { ...FAILED, problems: [`run failed twice: ${failures.join('; ')}`] };
          results.get(contender.name)!.push(result);
          console.error(
            `  ${clients} clients, ${contender.name}: ${round(result.registrationsPerSecond)} reg/s (${round(result.registrationCpuUs)} µs), ${round(result.flatPerSecond)} msg/s flat, ` +
              `p50/p99 ${round(result.pacedP50)}/${round(result.pacedP99)} ms paced, ${round(result.rssPerClientKB)} KB/client, ` +
              `${round(result.serverCpuUsPerMessage)} µs/msg${result.problems.length ? ` [${result.problems.join('; ')}]` : ''} (${round((performance.now() - started) / 1000)} s)`,
          );
        }
      }
      out.push(...rowsFor(clients, p, results));
      const problems = [...results].flatMap(([name, runs]) => runs.flatMap((r) => r.problems.map((problem) => `${name}: ${problem}`)));
      // The smoke run exists to catch a bench (or a server) that broke: any lost message or failed run fails it.
      if (smoke && problems.length) throw new Error(`signaling bench problems:\n${problems.join('\n')}`);
    }
  } finally {
    await redis.kill('SIGTERM');
  }
  return [{ name: 'signaling', rows: out }];
}

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  const values = (name: string): string[] => process.argv.filter((a) => a.startsWith(`--${name}=`)).map((a) => a.slice(name.length + 3));
  const clients = values('clients').map(Number);
  const rounds = values('rounds').map(Number);
  const sections = await run({
    smoke: process.argv.includes('--smoke'),
    only: values('contender'),
    ...(clients.length ? { clients } : {}),
    ...(rounds.length ? { rounds: rounds[0]! } : {}),
  });
  console.log(JSON.stringify(sections, null, 2));
  process.exit(0);
}
