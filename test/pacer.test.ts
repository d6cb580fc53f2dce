import { afterEach, describe, expect, it, vi } from 'vitest';
import { Pacer } from '../src/services/rateLimit.js';

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
});
