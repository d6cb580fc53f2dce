import { afterEach, describe, expect, it, vi } from 'vitest';
import { Pacer, type PacerOptions } from '../src/services/pacer.js';
import { TokenBucket } from '../src/wire/tokenBucket.js';

describe('Pacer', () => {
  afterEach(() => vi.useRealTimers());

  it('runs a burst at once, the rest in order at the sustained rate, and stops when closed', () => {
    vi.useFakeTimers();
    const pacer = new Pacer({ perSecond: 10, burst: 3 });
    const ran: number[] = [];
    for (let i = 0; i < 6; i++) pacer.run(() => ran.push(i));
    expect(ran).toEqual([0, 1, 2]);
    vi.advanceTimersByTime(100);
    expect(ran).toEqual([0, 1, 2, 3]);
    vi.advanceTimersByTime(200);
    expect(ran).toEqual([0, 1, 2, 3, 4, 5]);
    pacer.run(() => ran.push(6));
    pacer.run(() => ran.push(7));
    pacer.close();
    vi.advanceTimersByTime(1000);
    expect(ran).toHaveLength(6);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('adopts a new rate without losing queued tasks', () => {
    vi.useFakeTimers();
    const pacer = new Pacer({ perSecond: 1, burst: 1 });
    const ran: number[] = [];
    for (let i = 0; i < 4; i++) pacer.run(() => ran.push(i));
    pacer.retune({ perSecond: 100, burst: 100 });
    vi.advanceTimersByTime(1000);
    expect(ran).toEqual([0, 1, 2, 3]);
  });

  it('keeps at most maxInFlight tasks unfinished, starting the next one as each finishes', () => {
    vi.useFakeTimers();
    const pacer = new Pacer({ perSecond: 1000, burst: 100, maxInFlight: 2 });
    const pending: (() => void)[] = [];
    for (let i = 0; i < 5; i++) pacer.run((done) => pending.push(done));
    expect(pending).toHaveLength(2);
    pending[0]!();
    pending[0]!(); // a second call of the same done frees nothing more
    expect(pending).toHaveLength(3);
    pending[1]!();
    pending[2]!();
    expect(pending).toHaveLength(5);
  });

  /**
   * A server's bucket sees requests when it gets to process them. Here it processes them only every
   * 700 ms (a busy event loop), so paced requests arrive bunched; answers go back at processing time.
   */
  function refusedUnderStalls(pace: PacerOptions): number {
    vi.useFakeTimers();
    const server = new TokenBucket({ perSecond: 100, burst: 200, now: () => Date.now() });
    const arrived: (() => void)[] = [];
    let refused = 0;
    const pacer = new Pacer(pace);
    for (let i = 0; i < 1500; i++) pacer.run((done) => arrived.push(done));
    for (let t = 0; t < 20_000; t += 700) {
      vi.advanceTimersByTime(700);
      for (const done of arrived.splice(0)) {
        if (!server.take()) refused++;
        done();
      }
    }
    return refused;
  }

  it('never overruns the server when burst + maxInFlight fit its burst, however requests bunch', () => {
    expect(refusedUnderStalls({ perSecond: 80, burst: 100, maxInFlight: 80 })).toBe(0);
    // Pacing without the in-flight bound is what failed: 50 concurrent connects got ERR_RATE_LIMITED.
    expect(refusedUnderStalls({ perSecond: 80, burst: 160 })).toBeGreaterThan(0);
  });
});
