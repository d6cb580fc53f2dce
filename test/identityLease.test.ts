import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { identitySlot, leaseIdentity } from '../src/cli/identityLease.js';

const dir = () => mkdtempSync(join(tmpdir(), 'p2p-lease-'));
/** A pid far above Linux's default pid_max, so no process has it. */
const DEAD_PID = 4_194_304 + 4242;

describe('identity leases', () => {
  it('lock the key file with our pid and release it', () => {
    const path = join(dir(), 'identity.pem');
    const lease = leaseIdentity(path);
    if (!('identity' in lease)) throw new Error('expected a lease');
    expect(readFileSync(`${path}.lock`, 'utf8').trim()).toBe(String(process.pid));
    lease.release();
    expect(existsSync(`${path}.lock`)).toBe(false);
    lease.release(); // idempotent
  });

  it('report the live process that holds a key', () => {
    const path = join(dir(), 'identity.pem');
    writeFileSync(`${path}.lock`, '1\n'); // pid 1 is always running
    expect(leaseIdentity(path)).toEqual({ heldBy: 1 });
  });

  it('take over a lock whose process is gone', () => {
    const path = join(dir(), 'identity.pem');
    writeFileSync(`${path}.lock`, `${DEAD_PID}\n`);
    const lease = leaseIdentity(path);
    expect('identity' in lease).toBe(true);
    expect(readFileSync(`${path}.lock`, 'utf8').trim()).toBe(String(process.pid));
  });

  it('name the slots a second node on one machine uses', () => {
    expect(identitySlot('/c/identity.pem', 1)).toBe('/c/identity.pem');
    expect(identitySlot('/c/identity.pem', 2)).toBe('/c/identity-2.pem');
    expect(identitySlot('/c/key', 3)).toBe('/c/key-3');
  });
});
