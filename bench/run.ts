/**
 * `npm run bench`: runs every bench section alternating its contenders, prints one table per section,
 * writes bench/results/<section>.json and bench/results/latest.json, and regenerates
 * docs/benchmarks.md from every section result on disk (so `--only` refreshes one section).
 *
 * Usage: tsx bench/run.ts [--smoke] [--only <section|module>]…
 *   --smoke   a few seconds in all, no thresholds; results go to bench/results/smoke/, docs untouched.
 *   --only    throughput | rtt | observability | setup | manyPeers | signaling | dht | files | browser | udpBuffers (or any section name a module returns).
 *
 * Sections: 1 throughput, 2 rtt (bench/datapath.ts), then bench/setup.ts and bench/manyPeers.ts when
 * present (each exports `run(options): Promise<BenchSection[]>`), then 5 observability, then 6 signaling
 * (bench/signaling.ts), then 7 dht (bench/dht.ts), then 8 files (bench/files.ts), then 9 browser (bench/browser.ts), then 10 udpBuffers (bench/udpBuffers.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { round } from './stats.js';
import type { BenchOptions, BenchRow, BenchSection } from './types.js';

type RunFn = (options: BenchOptions & { sections?: string[] }) => Promise<BenchSection[]>;

interface Job {
  module: string;
  /** For modules that run several sections (datapath): which ones this job runs. */
  sections?: string[];
}

const JOBS: Job[] = [
  { module: 'datapath', sections: ['throughput', 'rtt'] },
  { module: 'setup' },
  { module: 'manyPeers' },
  { module: 'datapath', sections: ['observability'] },
  { module: 'signaling' },
  { module: 'dht' },
  { module: 'files' },
  { module: 'browser' },
  { module: 'udpBuffers' },
];

const TITLES: Record<string, string> = {
  throughput:
    '1. Throughput of one reliable ordered channel, sender and receiver in separate processes, every byte verified (MB/s = 10⁶ B/s, timed from the send command to the receiver having verified the last byte)',
  rtt: '2. Round-trip latency of 64 B messages, sequential ping → echo (samples are per-round p50/p99)',
  setup: '3. Connection setup: bare simple-peer through a minimal Socket.IO relay vs connectToNode() through our signaling server',
  manyPeers: '4. Many peers on one node: 10, 50 and 100 connections (all connectToNode calls at once; the node negotiates 10 at a time)',
  observability: '5. Cost of observability: our node at 256 KiB messages, alternated',
  browser:
    '9. A browser tab as a node: Chromium against Node nodes, each in its own process, in a network namespace of the bench (as root): setup, 64 KiB-message throughput both ways, and a file from a Blob',
  files: '8. File transfer: node.sendFile() of one file against node.send() of the same bytes as 64 KiB messages, alternated',
  dht: '7. The DHT: topic lookups among 50 real nodes in 5 processes, and lookups over a connection carrying a 64 MiB message',
  udpBuffers:
    "10. UDP receive buffers: section 1's contenders with the kernel's default receive buffer (net.core.rmem_default, which libwebrtc never raises) and with 4 MiB per socket (an LD_PRELOAD shim, so the host's settings stay as they are), alternated",
  signaling:
    '6. Signaling servers under load: registration, offer/answer/candidate relay, memory and CPU per message, against the PeerJS server (every server in its own process, clients in 4 others; a cluster puts consecutive clients on different servers)',
};

/** How to read a section, printed above its table. */
const INTROS: Record<string, string> = {
  signaling: [
    'Contenders: the PeerJS server 1.0.2 (`peer`, the baseline: plain WebSocket, JSON forwarded by id, no proof of identity,',
    'no acknowledgements); bench/relay.ts, bare Socket.IO 4.8 forwarding `{ to, data }` by socket id with nothing else, to',
    'tell what Socket.IO itself costs; our server (protocol revision 2: the Engine.IO session id signed with Ed25519 in the',
    'handshake, every signal validated and rate-limited per connection and per node id, acknowledged when the client asks,',
    'as the node\'s client does: the first signal, then one in 64 or after 5 s of quiet); and clusters of 1, 2 and 3 of our servers on one',
    'Redis 7, where consecutive clients sit on different servers so every signal of a cluster of 2 or 3 crosses servers.',
    'Every server runs in its own process; 4 client processes speak each wire protocol by hand over `ws` (the same lean',
    'client for everyone), each PeerJS client sends the PeerJS client\'s `HEARTBEAT` every 5 s. A session is the signaling of',
    'one connection: an offer and an answer (about 900 B of SDP each) and 4 trickled candidates, each sent the moment the',
    'previous one arrived; every delivery must equal, character for character, what the server should forward.',
    '',
    '- **registrations/s**: every client connects and registers, 64 at a time per client process (ours: WebSocket, Engine.IO',
    '  open, Socket.IO CONNECT carrying the signed session id, `registered`; PeerJS: WebSocket and its `OPEN`). **server CPU per registration** is',
    '  the servers\' (and Redis\') CPU over that phase divided by the clients.',
    '- **relay p50/p99** at a fixed offered load the same for everyone (sessions started at a steady rate), send to receipt.',
    '- **relayed msgs/s flat out**: 64 sessions in flight per client process, for 5 s after 1 s of warm-up; the notes give',
    '  the latency at that load and how busy the client processes were.',
    '- **server RSS per client**: resident memory of the server processes after full collections with all clients',
    '  registered, minus the same with half of them, divided by the other half. The servers first wait until their memory',
    '  stops shrinking: a freshly started process gives back tens of MB in its first seconds. The notes give the JS heap',
    '  per client.',
    '- **registrations/s** and **server CPU per registration** cover both halves, without the memory reading between them.',
    '- **server CPU per relayed msg**: CPU time of every server process (and Redis) over the flat-out phase divided by the',
    '  messages delivered in it: the cost of a message, steadier than msgs/s.',
    '- **msgs/s with a core per server (derived)**: not measured; servers × 10⁶ / their CPU µs per message, capped by',
    "  Redis's single core: what the cluster would relay if each server process had a core of its own.",
    '',
    'This host has 2 cores for every server, Redis and the 4 client processes, so measured msgs/s cannot grow with servers',
    'here; on loopback a socket write also pays for the receiving side, which weighs on every frame sent.',
  ].join('\n'),
  udpBuffers: [
    "libwebrtc opens its UDP sockets at the kernel's default receive buffer (`net.core.rmem_default`, 208 KiB on most",
    'Linux systems) and never asks for more. The second contender of each pair runs with bench/rcvbuf/rcvbuf.c preloaded,',
    'which gives every UDP socket its processes open 4 MiB (`SO_RCVBUFFORCE`; the kernel reports double, as `ss` shows in',
    "the notes), the size a node recommends when it warns of small buffers; the host's settings are never changed. The",
    'notes count the datagrams the kernel dropped for a full receive buffer during each sample (all processes).',
  ].join('\n'),
  browser: [
    "The tab rows are bounded by Chromium's own data channel: two tabs on bare RTCPeerConnections (the last throughput",
    'row, bench/rawTabs.ts) move what two tabs of ours do. The more tabs one Chromium has open, the lower every tab row:',
    'a smoke run with four tabs open measured 1–2 MB/s tab → tab, bare and ours alike. A tab sending a file also hashes',
    'it first with @noble (the Node side uses OpenSSL) and reads the Blob 1 MiB at a time.',
  ].join('\n'),
};

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));
/** A section name as a file name: 'throughput' stays, '3. Connection setup (…)' becomes '3-connection-setup-…'. */
const fileName = (name: string): string =>
  name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60).replace(/-+$/, '') || 'section';
const norm = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]/g, '');

function parseArgs(argv: string[]): { smoke: boolean; only: string[] } {
  const only: string[] = [];
  let smoke = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--smoke') smoke = true;
    else if (arg === '--only') only.push(...(argv[++i] ?? '').split(',').filter(Boolean));
    else if (arg.startsWith('--only=')) only.push(...arg.slice('--only='.length).split(',').filter(Boolean));
    else throw new Error(`unknown argument ${arg} (usage: tsx bench/run.ts [--smoke] [--only <section>])`);
  }
  return { smoke, only: only.map(norm) };
}

/** Jobs to run for `--only`, each with the section names to keep (undefined: all it returns). */
function selectJobs(only: string[]): { job: Job; keep?: Set<string> }[] {
  if (only.length === 0) return JOBS.map((job) => ({ job }));
  const selected: { job: Job; keep?: Set<string> }[] = [];
  // Names we can route exactly; anything else may be a section of a module whose sections we do not know.
  const known = new Set(JOBS.flatMap((job) => [norm(job.module), ...(job.sections ?? []).map(norm)]));
  const unknownAsked = only.some((name) => !known.has(name));
  for (const job of JOBS) {
    if (only.includes(norm(job.module))) {
      selected.push({ job });
      continue;
    }
    if (job.sections) {
      const sections = job.sections.filter((s) => only.includes(norm(s)));
      if (sections.length) selected.push({ job: { ...job, sections } });
    } else if (unknownAsked) {
      // A module whose section names we do not know: run it and keep the sections asked for.
      selected.push({ job, keep: new Set(only) });
    }
  }
  return selected;
}

function machine(): Record<string, string | number> {
  const require = createRequire(import.meta.url);
  const version = (pkg: string): string => {
    try {
      return (require(`${pkg}/package.json`) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  };
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    /* not Linux */
  }
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    /* not a checkout */
  }
  return {
    cpu,
    cores: cpus().length,
    ramGiB: round(totalmem() / 2 ** 30),
    os: `${process.platform} ${release()}`,
    node: process.version,
    wrtc: `@roamhq/wrtc ${version('@roamhq/wrtc')}`,
    simplePeer: `simple-peer ${version('simple-peer')}`,
    commit,
  };
}

function fmt(x: number | undefined): string {
  if (x === undefined) return '';
  if (!Number.isFinite(x)) return 'n/a';
  return String(round(x));
}

function table(rows: BenchRow[]): string {
  const base = rows.find((r) => r.baseline)?.baseline;
  const head = ['metric', 'contender', 'median', 'min', 'max', 'unit', base ? `ratio to ${base}` : 'ratio'];
  const body = rows.map((r) => [r.metric, r.contender, fmt(r.median), fmt(r.min), fmt(r.max), r.unit, r.ratio === undefined ? '' : Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}×` : 'n/a']);
  const lines = [head, head.map(() => '---'), ...body].map((cells) => `| ${cells.join(' | ')} |`);
  return lines.join('\n');
}

function notes(rows: BenchRow[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const r of rows) {
    if (!r.note) continue;
    const line = `- ${r.metric}, ${r.contender}: ${r.note}`;
    const key = `${r.contender}:${r.note}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(line);
  }
  return out.join('\n');
}

interface StoredSection {
  at: string;
  smoke: boolean;
  durationSec?: number;
  /** 1-minute load average before and after the section: above the core count, other work shared the CPUs. */
  load?: { before: number; after: number };
  machine: Record<string, string | number>;
  section: BenchSection;
}

function writeDocs(resultsDir: string, contenderNotes: Record<string, string> | undefined): void {
  // Section numbers from the issue: ours by name, the others' by the number their names start with.
  const rank = (name: string): number => ({ throughput: 1, rtt: 2, setup: 3, manyPeers: 4, observability: 5, signaling: 6, dht: 7, files: 8, browser: 9, udpBuffers: 10 })[name] ?? (Number.parseFloat(name) || 99);
  const stored = readdirSync(resultsDir)
    .filter((f) => f.endsWith('.json') && f !== 'latest.json' && f !== 'connect.json')
    .map((f) => {
      try {
        return JSON.parse(readFileSync(`${resultsDir}/${f}`, 'utf8')) as StoredSection;
      } catch {
        return undefined;
      }
    })
    .filter((s): s is StoredSection => !!s?.section?.rows)
    .sort((a, b) => rank(a.section.name) - rank(b.section.name) || a.section.name.localeCompare(b.section.name));
  const m = stored[0]?.machine ?? machine();
  const parts = [
    '# Benchmarks',
    '',
    'Generated by `npm run bench` (bench/run.ts); do not edit by hand. Loopback only (ICE candidates filtered to 127.0.0.1).',
    'Contenders are measured alternately in the same run (A B C A B C …); each row gives the median, min and max of its samples',
    "and the ratio of its median to the baseline contender's median. Raw samples are in bench/results/<section>.json.",
    '',
    '**Reading the throughput rows.** On this host every contender, bare wrtc included, runs some samples at about half',
    "speed or worse: libwebrtc leaves its UDP sockets at the kernel's default 208 KiB receive buffer, SCTP bursts past it on",
    'loopback while two busy processes share two cores, and the datagrams the kernel drops (counted per sample in the notes)',
    'send the connection into loss recovery for a while. So MB/s medians can swing by tens of percent between runs whatever',
    'the code. CPU time per 100 MB (both processes, all threads, from /proc) swings much less, within about ±10% between runs',
    'here, and is the better measure of what each layer costs; a sample in loss recovery costs more CPU too. Section 10',
    'measures the same transfers with 4 MiB receive buffers: no drops, and the slowest samples near the median.',
    '',
    '## Machine',
    '',
    `- CPU: ${m.cpu} (${m.cores} cores)`,
    `- RAM: ${m.ramGiB} GiB`,
    `- OS: ${m.os}`,
    `- Node ${m.node}, ${m.wrtc}, ${m.simplePeer}`,
    `- Commit: ${m.commit}`,
    '',
  ];
  if (contenderNotes) {
    parts.push('## How each contender sends', '');
    for (const [name, note] of Object.entries(contenderNotes)) parts.push(`- **${name}**: ${note}`);
    parts.push(
      '- Test data: a 16 MiB xorshift32 pool regenerated in every process; message i is the pool slice at a per-index offset and the receiver compares every message byte for byte (drops, reordering and corruption all fail the sample).',
      '- Bare contenders reassemble 256 KiB chunks by the known message size (no header): the cheapest possible reassembly, so the comparison flatters them slightly at 4 MiB.',
      '',
    );
  }
  for (const s of stored) {
    parts.push(`## ${TITLES[s.section.name] ?? s.section.name}`, '');
    if (INTROS[s.section.name]) parts.push(INTROS[s.section.name]!, '');
    parts.push(`Measured ${s.at}${s.durationSec ? ` (run of ${s.durationSec} s)` : ''}${s.load ? `, 1-min load average ${s.load.before} → ${s.load.after}` : ''}.`, '', table(s.section.rows), '');
    const n = notes(s.section.rows);
    if (n) parts.push(n, '');
  }
  mkdirSync(`${root}docs`, { recursive: true });
  writeFileSync(`${root}docs/benchmarks.md`, parts.join('\n'));
}

async function main(): Promise<void> {
  const { smoke, only } = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const at = new Date().toISOString();
  const info = machine();
  const resultsDir = `${here}results${smoke ? '/smoke' : ''}`;
  mkdirSync(resultsDir, { recursive: true });
  const all: BenchSection[] = [];
  let contenderNotes: Record<string, string> | undefined;
  let failed = false;
  for (const { job, keep } of selectJobs(only)) {
    const file = `${here}${job.module}.ts`;
    if (!existsSync(file)) {
      console.error(`(${job.module}.ts not present, skipped)`);
      continue;
    }
    const mod = (await import(pathToFileURL(file).href)) as { run?: RunFn; contenderNotes?: Record<string, string> };
    if (typeof mod.run !== 'function') {
      console.error(`(${job.module}.ts exports no run(), skipped)`);
      continue;
    }
    contenderNotes ??= mod.contenderNotes;
    const t0 = performance.now();
    const loadBefore = round(loadavg()[0]!);
    if (loadBefore > cpus().length / 2) console.error(`⚠ load average ${loadBefore} on ${cpus().length} cores: other work (or a previous run) shared the CPUs within the last minute, expect noise`);
    console.error(`▶ ${job.module}${job.sections ? ` (${job.sections.join(', ')})` : ''}${smoke ? ' [smoke]' : ''}`);
    let sections: BenchSection[];
    try {
      sections = await mod.run({ smoke, ...(job.sections ? { sections: job.sections } : {}) });
    } catch (err) {
      failed = true;
      console.error(`✗ ${job.module} failed: ${(err as Error).stack ?? String(err)}`);
      continue;
    }
    const durationSec = round((performance.now() - t0) / 1000);
    const load = { before: loadBefore, after: round(loadavg()[0]!) };
    for (const section of sections) {
      if (keep && !keep.has(norm(section.name)) && !keep.has(norm(job.module))) continue;
      all.push(section);
      console.log(`\n## ${TITLES[section.name] ?? section.name}\n\n${table(section.rows)}\n`);
      const stored: StoredSection = { at, smoke, durationSec, load, machine: info, section };
      writeFileSync(`${resultsDir}/${fileName(section.name)}.json`, `${JSON.stringify(stored, null, 2)}\n`);
    }
  }
  const totalSec = round((performance.now() - started) / 1000);
  writeFileSync(`${resultsDir}/latest.json`, `${JSON.stringify({ at, smoke, only, durationSec: totalSec, machine: info, sections: all }, null, 2)}\n`);
  // A run without the datapath sections (`--only signaling`) still documents how its stored tables were made.
  if (!smoke) writeDocs(resultsDir, contenderNotes ?? ((await import('./datapath.js')) as { contenderNotes: Record<string, string> }).contenderNotes);
  console.log(`\n${all.length} section(s) in ${totalSec} s${smoke ? ' (smoke: docs/benchmarks.md untouched)' : ''}; results in ${resultsDir}`);
  process.exit(failed ? 1 : 0);
}

await main();
