/**
 * A network namespace for the web app's tests: Chromium, the CLI and its signaling server all run
 * in it, on a veth pair with documentation addresses (198.51.100.1 and .2), so tab-to-tab WebRTC has
 * host candidates (Chromium gathers none on loopback) and no packet reaches the host's interfaces.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM } from './chromium.js';

export interface BrowserNetwork {
  /** Runs a command inside the namespace: prefix it to a spawn's command line. */
  readonly exec: string[];
  /** A Chromium executable that starts inside the namespace. */
  readonly chromium: string;
  remove(): void;
}

const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: 'pipe', timeout: 10_000 });

/** Creates the namespace; throws a clear error unless this process is root on Linux (the test fails, never skips). */
export function browserNetwork(): BrowserNetwork {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    throw new Error('the web app tests need root on Linux: they put Chromium in a network namespace (as the NAT lab does)');
  }
  const name = `p2pweb-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'p2p-web-ns-'));
  ip('netns', 'add', name);
  const inside = (...args: string[]): void => ip('netns', 'exec', name, 'ip', ...args);
  try {
    inside('link', 'set', 'lo', 'up');
    inside('link', 'add', 'web0', 'type', 'veth', 'peer', 'name', 'web1');
    inside('addr', 'add', '198.51.100.1/24', 'dev', 'web0');
    inside('addr', 'add', '198.51.100.2/24', 'dev', 'web1');
    inside('link', 'set', 'web0', 'up');
    inside('link', 'set', 'web1', 'up');
    inside('route', 'add', 'default', 'via', '198.51.100.2', 'dev', 'web0');
  } catch (err) {
    ip('netns', 'del', name);
    throw err;
  }
  const chromium = join(dir, 'chromium');
  writeFileSync(chromium, `#!/bin/sh\nexec ip netns exec ${name} ${CHROMIUM} "$@"\n`);
  chmodSync(chromium, 0o755);
  return {
    exec: ['ip', 'netns', 'exec', name],
    chromium,
    remove: () => {
      ip('netns', 'del', name);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
