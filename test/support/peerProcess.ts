import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/**
 * A node in a child process (test/fixtures/peerChild.ts) registered on `url`, and its id. Kill it
 * before closing the server: a frozen (SIGSTOP) client holds its WebSocket close for 30 s.
 */
export async function peerProcess(url: string): Promise<{ child: ChildProcess; id: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/peerChild.ts', url], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return { child, id: line.trim() };
}
