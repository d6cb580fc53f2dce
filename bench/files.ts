/**
 * Bench section 8: file transfer. `node.sendFile()` of one file (hashed by the sender, streamed from
 * disk in 64 KiB chunks under the 8 MiB written-window, written and hashed again by the receiver)
 * against `node.send()` of the same bytes as 64 KiB messages from memory (every byte verified by the
 * harness), alternated in one run, each a sender and a receiver in their own processes on loopback.
 * The CPU figures are both processes, all threads, per 100 MB.
 */
import { createSignalingServer } from '../src/index.js';
import { OURS, Pair, type ContenderSpec } from './datapath.js';
import { cpuMs } from './procStats.js';
import { rows } from './stats.js';
import type { BenchOptions, BenchSection } from './types.js';

const MB = 1e6;
const KiB = 1024;
const FILES: ContenderSpec = { name: 'node.sendFile()', script: 'fileNode.ts', node: true, note: 'sendFile(): SHA-256 at both ends, disk read and write, 64 KiB chunks' };
const RAW: ContenderSpec = { ...OURS, name: 'node.send() 64 KiB' };

function cpu(pair: Pair): number {
  return cpuMs(pair.sender.process.pid ?? 0).total + cpuMs(pair.receiver.process.pid ?? 0).total;
}

async function sendFile(pair: Pair, bytes: number): Promise<{ mbps: number; cpuMs: number }> {
  const before = cpu(pair);
  const started = performance.now();
  const done = pair.receiver.next('fileDone', 120_000);
  pair.sender.send({ cmd: 'sendFile' });
  const [received, sent] = await Promise.all([done, pair.sender.next('fileSent', 120_000)]);
  if (!received.ok || !sent.ok) throw new Error(`file transfer failed: ${String(received.message ?? sent.message)}`);
  const ms = performance.now() - started;
  return { mbps: bytes / MB / (ms / 1000), cpuMs: (cpu(pair) - before) * ((100 * MB) / bytes) };
}

export async function run(options: BenchOptions): Promise<BenchSection[]> {
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const bytes = options.smoke ? 8 * 1024 * KiB : 64 * 1024 * KiB;
  const rounds = options.smoke ? 1 : 7;
  const server = await createSignalingServer({ port: 0, host: '127.0.0.1' });
  const raw = new Pair(RAW, server.url);
  const files = new Pair(FILES, server.url);
  try {
    await Promise.all([raw.connect(), files.connect()]);
    files.sender.send({ cmd: 'prepareFile', bytes });
    await files.sender.next('prepared', 60_000);
    await raw.transfer(64 * KiB, 64); // warm-up, not recorded
    await sendFile(files, bytes);
    const mbps: Record<string, number[]> = { [RAW.name]: [], [FILES.name]: [] };
    const cpuPer100: Record<string, number[]> = { [RAW.name]: [], [FILES.name]: [] };
    for (let round = 0; round < rounds; round++) {
      const r = await raw.transfer(64 * KiB, bytes / (64 * KiB));
      mbps[RAW.name]!.push(r.mbps);
      cpuPer100[RAW.name]!.push(r.cpuMs);
      const f = await sendFile(files, bytes);
      mbps[FILES.name]!.push(f.mbps);
      cpuPer100[FILES.name]!.push(f.cpuMs);
      log(`  files round ${round + 1}: send() ${r.mbps.toFixed(1)} MB/s, ${r.cpuMs.toFixed(0)} ms CPU/100 MB; sendFile() ${f.mbps.toFixed(1)} MB/s, ${f.cpuMs.toFixed(0)} ms CPU/100 MB`);
    }
    const label = `${(bytes / (1024 * KiB)).toFixed(0)} MiB`;
    const notes = { [RAW.name]: 'the same bytes from memory as 64 KiB messages; every byte verified', [FILES.name]: FILES.note };
    return [{ name: 'files', rows: [...rows(`throughput ${label}`, 'MB/s', mbps, RAW.name, notes), ...rows(`CPU per 100 MB, ${label}`, 'ms', cpuPer100, RAW.name, notes)] }];
  } finally {
    await Promise.all([raw.close(), files.close()]);
    await server.close();
  }
}
