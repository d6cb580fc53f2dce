import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, basename } from 'node:path';
import { P2PError } from '../errors.js';
import { loadOrCreateIdentity } from '../services/identity.js';
import type { Identity } from '../wire/keys.js';

/** An identity held by this process until `release()`. */
export interface IdentityLease {
  identity: Identity;
  path: string;
  release(): void;
}

/** Whether process `pid` is running (one we may not signal, EPERM, still counts). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid holding `lockPath`, if that process is still running. */
function holder(lockPath: string): number | undefined {
  try {
    const pid = Number(readFileSync(lockPath, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && isProcessAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the key at `path` (creating it on first use) for this process, or returns the pid of the
 * running process that holds it. Two live nodes with one key would keep evicting each other from the
 * signaling server, so a key is used by one process at a time; a lock left by a dead process is taken over.
 */
export function leaseIdentity(path: string): IdentityLease | { heldBy: number } {
  const locked = lock(`${path}.lock`, path);
  if (typeof locked === 'number') return { heldBy: locked };
  try {
    return { identity: loadOrCreateIdentity(path), path, release: locked };
  } catch (err) {
    locked();
    throw err;
  }
}

/** Takes `lockPath` for this process: a release function, or the pid of the live process holding it. */
function lock(lockPath: string, path: string): (() => void) | number {
  mkdirSync(dirname(lockPath), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockPath, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () =>
        tryQuietly(() => {
          if (readFileSync(lockPath, 'utf8').trim() === String(process.pid)) unlinkSync(lockPath);
        });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new P2PError('ERR_IDENTITY', `cannot lock identity file ${path}: ${(err as Error).message}`, { cause: err });
      }
      const pid = holder(lockPath);
      if (pid !== undefined) return pid;
      tryQuietly(() => unlinkSync(lockPath)); // stale: its process is gone
    }
  }
  throw new P2PError('ERR_IDENTITY', `cannot lock identity file ${path}: another process keeps taking it`);
}

function tryQuietly(action: () => void): void {
  try {
    action();
  } catch {
    // A lock that vanished under us needs no cleanup.
  }
}

/** `identity.pem` → `identity-2.pem`: the key a second node on this machine uses by default. */
export function identitySlot(path: string, slot: number): string {
  if (slot <= 1) return path;
  const ext = extname(path);
  return join(dirname(path), `${basename(path, ext)}-${slot}${ext}`);
}
