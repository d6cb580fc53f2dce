import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CREDIT_STEP, CreditGrants, CreditWindow, creditPayload, readCredit } from '../src/data/credit.js';

describe('CreditWindow', () => {
  it('has room for its size, less what was sent and not credited', () => {
    const window = new CreditWindow(4 * CREDIT_STEP);
    expect(window.room).toBe(4 * CREDIT_STEP);
    window.sent(3 * CREDIT_STEP);
    window.sent(2 * CREDIT_STEP);
    expect(window.room).toBe(0);
    expect(window.outstanding).toBe(5 * CREDIT_STEP);
    expect(window.credit(2 * CREDIT_STEP)).toBe(true);
    expect(window.room).toBe(CREDIT_STEP);
  });

  it('caps credit at what was sent, so a lying peer cannot open it past its size', () => {
    const window = new CreditWindow(2 * CREDIT_STEP);
    window.sent(100);
    expect(window.credit(10 * CREDIT_STEP)).toBe(false);
    expect(window.outstanding).toBe(0);
    expect(window.room).toBe(2 * CREDIT_STEP);
    window.sent(2 * CREDIT_STEP);
    expect(window.room).toBe(0);
  });

  it('refuses a size the receiver’s step could leave closed for ever', () => {
    expect(() => new CreditWindow(CREDIT_STEP)).toThrow(RangeError);
  });
});

describe('CreditGrants', () => {
  it('owes nothing below one step, then everything read', () => {
    const grants = new CreditGrants();
    grants.read(CREDIT_STEP - 1);
    expect(grants.take()).toBeUndefined();
    grants.read(10);
    expect(grants.take()).toBe(CREDIT_STEP + 9);
    expect(grants.take()).toBeUndefined();
  });

  it('never leaves a sender waiting: whatever it sends within a window larger than a step is credited back until it has room', () => {
    fc.assert(
      fc.property(fc.integer({ min: CREDIT_STEP + 1, max: 8 * CREDIT_STEP }), fc.array(fc.integer({ min: 1, max: 300_000 }), { minLength: 1, maxLength: 60 }), (size, wants) => {
        const window = new CreditWindow(size);
        const grants = new CreditGrants();
        for (const want of wants) {
          // The sender sends what it may; the receiver reads all of it and credits what it owes.
          const sent = Math.min(want, window.room);
          window.sent(sent);
          grants.read(sent);
          const credit = grants.take();
          if (credit !== undefined) expect(window.credit(credit)).toBe(true);
          expect(window.room).toBeGreaterThan(0);
          expect(window.outstanding).toBeLessThan(CREDIT_STEP);
        }
      }),
    );
  });
});

describe('credit records', () => {
  it('carry a u32 big-endian count', () => {
    expect(Buffer.from(creditPayload(65_536)).toString('hex')).toBe('00010000');
    expect(readCredit(new Uint8Array([9, 0xff, 0xff, 0xff, 0xff]).subarray(1))).toBe(0xffff_ffff);
  });
});
