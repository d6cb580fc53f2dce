import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Harness } from '../helpers.js';

/**
 * A node in a child process (test/fixtures/peerChild.ts) registered on `url`, with the key in
 * `identityFile` if given, connected to `connectTo` if given, and its id; `harness` kills it at cleanup.
 */
export async function peerProcess(harness: Harness, url: string, identityFile = '', connectTo?: string): Promise<{ child: ChildProcess; id: string }> {
  const args = ['--import', 'tsx', 'test/fixtures/peerChild.ts', url, identityFile, ...(connectTo ? [connectTo] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  harness.adopt(child);
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return { child, id: line.trim() };
}
