import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/**
 * A node in a child process (test/fixtures/peerChild.ts) registered on `url`, with the key in
 * `identityFile` if given, connected to `connectTo` if given, and its id. Kill it before closing the
 * server: a frozen (SIGSTOP) client holds its WebSocket close for 30 s.
 */
export async function peerProcess(url: string, identityFile = '', connectTo?: string): Promise<{ child: ChildProcess; id: string }> {
  const args = ['--import', 'tsx', 'test/fixtures/peerChild.ts', url, identityFile, ...(connectTo ? [connectTo] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return { child, id: line.trim() };
}
