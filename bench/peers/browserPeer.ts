/**
 * A Node node for bench section 9 (bench/browser.ts), run inside the bench's network namespace
 * (`ip netns exec`, so no IPC channel): JSON lines in on stdin, JSON lines out on stdout.
 *
 * Requests: `{ cmd: 'connect', peer }` → `{ ev: 'connected', ms }`; `{ cmd: 'disconnect', peer }` →
 * `{ ev: 'disconnected' }`; `{ cmd: 'send', peer, size, count }` → `{ ev: 'sent' }`; `{ cmd: 'expect',
 * bytes }` → `{ ev: 'got', bytes }` once that many bytes of messages arrived. Files are accepted into
 * a temporary folder, each reported as `{ ev: 'file', bytes }`. Exits when stdin closes, or after
 * its deadline.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createNode } from '../../src/index.js';

const DEADLINE_MS = 20 * 60_000;
const say = (event: object): void => void process.stdout.write(`${JSON.stringify(event)}\n`);
const inbox = mkdtempSync(join(tmpdir(), 'bench-browser-'));
const node = createNode({ signalingUrl: process.argv[2]!, files: { dir: inbox }, reconnect: false });
let received = 0;
let expected: number | undefined;
node.data$.subscribe(({ data }) => {
  received += typeof data === 'string' ? data.length : data.byteLength;
  if (expected !== undefined && received >= expected) {
    say({ ev: 'got', bytes: received });
    expected = undefined;
  }
});
node.transfers$.subscribe((t) => t.direction === 'in' && t.state === 'done' && say({ ev: 'file', bytes: t.size }));
await node.start();
say({ ev: 'id', id: node.nodeId });

const exit = async (code: number): Promise<never> => {
  await node.stop({ force: true }).catch(() => {});
  rmSync(inbox, { recursive: true, force: true });
  process.exit(code);
};
setTimeout(() => void exit(3), DEADLINE_MS).unref();
const chunk = (size: number): Uint8Array => new Uint8Array(size).fill(7);

for await (const line of createInterface({ input: process.stdin })) {
  const req = JSON.parse(line) as { cmd: string; peer: string; size: number; count: number; bytes: number };
  try {
    if (req.cmd === 'connect') {
      const started = performance.now();
      await node.connectToNode(req.peer);
      say({ ev: 'connected', ms: performance.now() - started });
    } else if (req.cmd === 'disconnect') {
      await node.disconnect(req.peer);
      say({ ev: 'disconnected' });
    } else if (req.cmd === 'expect') {
      received = 0;
      expected = req.bytes;
      say({ ev: 'expecting' });
    } else if (req.cmd === 'send') {
      const message = chunk(req.size);
      for (let i = 0; i < req.count; i++) await node.send(req.peer, message);
      say({ ev: 'sent' });
    }
  } catch (err) {
    say({ ev: 'error', message: (err as Error).message });
  }
}
await exit(0);
