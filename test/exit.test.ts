import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const RUNS = 30;
const PARALLEL = 2;

/** Runs the fixture once; resolves with how the process ended. */
function life(mode: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/exitChild.ts', mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, out });
    });
  });
}

async function lives(mode: string, runs: number) {
  const results: Awaited<ReturnType<typeof life>>[] = [];
  for (let i = 0; i < runs; i += PARALLEL) {
    results.push(...(await Promise.all(Array.from({ length: Math.min(PARALLEL, runs - i) }, () => life(mode)))));
  }
  return results;
}

describe('process exit after closing real WebRTC connections', () => {
  it(`exits cleanly ${RUNS} times out of ${RUNS} after connect, send and close`, async () => {
    const results = await lives('connected', RUNS);
    const bad = results.filter((r) => r.code !== 0 || r.signal !== null || !r.out.includes('clean'));
    expect(bad.map((r) => `${r.code}/${r.signal}: ${r.out.slice(-300)}`)).toEqual([]);
    // A natural exit must not wait on stray timers (simple-peer's 5 s ICE timer once did).
    expect(results.filter((r) => !r.out.includes('timers left: 0')).map((r) => r.out.slice(-300))).toEqual([]);
  }, 300_000);

  it('exits cleanly 10 times out of 10 when stopped in the middle of a handshake', async () => {
    const results = await lives('negotiating', 10);
    const bad = results.filter((r) => r.code !== 0 || r.signal !== null);
    expect(bad.map((r) => `${r.code}/${r.signal}: ${r.out.slice(-300)}`)).toEqual([]);
  }, 300_000);
});
