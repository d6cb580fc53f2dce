/**
 * Section 10, UDP receive buffers: what the kernel's default (`net.core.rmem_default`, which libwebrtc
 * never raises) costs a data channel on loopback. The same contenders as section 1 run once with the
 * default and once with every UDP socket of their processes given 4 MiB by an LD_PRELOAD shim
 * (bench/rcvbuf/rcvbuf.c, compiled here with cc), alternated, so the host's settings never change.
 * The notes give the receive buffers `ss` reports for the receivers' sockets, and the UDP drops.
 *
 * Standalone: tsx bench/udpBuffers.ts [--smoke]; or `npm run bench -- --only udpBuffers`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSignalingServer } from '../src/index.js';
import { RECOMMENDED_UDP_RECEIVE_BUFFER } from '../src/services/udpBuffers.js';
import { BARE_SIMPLE_PEER, OURS, alternatedTransfers, openPairs, type ContenderSpec } from './datapath.js';
import { udpReceiveBuffersOf } from './procStats.js';
import type { BenchOptions, BenchRow, BenchSection } from './types.js';

const KiB = 1024;
const MB = 1e6;
const SELF = fileURLToPath(import.meta.url);

/** Compiles the shim once per run into a temporary folder; throws if there is no C compiler. */
function buildShim(): string {
  const dir = join(tmpdir(), `p2p-bench-rcvbuf-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const out = join(dir, 'rcvbuf.so');
  execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', out, resolve(SELF, '../rcvbuf/rcvbuf.c'), '-ldl'], { stdio: 'pipe' });
  return out;
}

export async function run(options: BenchOptions & { log?: (line: string) => void }): Promise<BenchSection[]> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const shim = buildShim();
  const big = { LD_PRELOAD: shim, RCVBUF_BYTES: String(RECOMMENDED_UDP_RECEIVE_BUFFER) };
  const mib = RECOMMENDED_UDP_RECEIVE_BUFFER / (1024 * 1024);
  const specs: ContenderSpec[] = [
    { ...BARE_SIMPLE_PEER, name: 'bare simple-peer, default buffers' },
    { ...BARE_SIMPLE_PEER, name: `bare simple-peer, ${mib} MiB buffers`, env: big },
    { ...OURS, name: 'p2p-dht-node, default buffers' },
    { ...OURS, name: `p2p-dht-node, ${mib} MiB buffers`, env: big },
  ];
  const baseline = specs[0]!.name;
  const server = await createSignalingServer({ port: 0, host: '127.0.0.1' });
  try {
    const pairs = await openPairs(specs, server.url);
    try {
      const buffers = Object.fromEntries(pairs.map((p) => [p.spec.name, [...new Set(udpReceiveBuffersOf(p.receiver.process.pid ?? 0))].join(', ') || 'none seen']));
      for (const pair of pairs) await pair.transfer(256 * KiB, options.smoke ? 8 : 32);
      const rows: BenchRow[] = [];
      const bytes = options.smoke ? 8 * MB : 60 * MB;
      for (const [label, size] of [['64 KiB', 64 * KiB], ['256 KiB', 256 * KiB]] as const) {
        const count = Math.round(bytes / size);
        const describe = (name: string): string => `the receiver's UDP sockets: rb ${buffers[name]} B (ss -uamp)`;
        rows.push(...(await alternatedTransfers(pairs, { size, count, rounds: options.smoke ? 1 : 7, label, baseline, describe }, log)));
      }
      return [{ name: 'udpBuffers', rows }];
    } finally {
      await Promise.all(pairs.map((pair) => pair.close()));
    }
  } finally {
    await server.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  const sections = await run({ smoke: process.argv.includes('--smoke') } as BenchOptions);
  process.stdout.write(`${JSON.stringify(sections, null, 2)}\n`);
}
