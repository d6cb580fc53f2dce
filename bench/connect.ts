/**
 * Connection setup time of two local nodes through our signaling server (signatures, DTLS check and
 * all): `connectToNode()` from call to resolve, over fresh node pairs. Loopback only.
 * Usage: tsx bench/connect.ts [runs=20]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createNode, createSignalingServer, loopbackOnly } from '../src/index.js';

const runs = Number(process.argv[2] ?? 20);
const server = await createSignalingServer({ port: 0 });
const samples: number[] = [];
for (let i = 0; i < runs; i++) {
  const [a, b] = [0, 1].map(() => createNode({ signalingUrl: server.url, candidateFilter: loopbackOnly }));
  await Promise.all([a!.start(), b!.start()]);
  const started = performance.now();
  await a!.connectToNode(b!.nodeId);
  samples.push(performance.now() - started);
  await Promise.all([a!.stop(), b!.stop()]);
}
await server.close();

const sorted = [...samples].sort((x, y) => x - y);
const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const median = sorted.length % 2 ? pick(0.5) : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
const result = { runs, medianMs: +median.toFixed(1), minMs: +sorted[0]!.toFixed(1), p95Ms: +pick(0.95).toFixed(1), maxMs: +sorted.at(-1)!.toFixed(1) };
console.log(`connectToNode over ${runs} fresh pairs: median ${result.medianMs} ms (min ${result.minMs}, p95 ${result.p95Ms}, max ${result.maxMs})`);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/connect.json', `${JSON.stringify({ at: new Date().toISOString(), ...result, samples }, null, 2)}\n`);
