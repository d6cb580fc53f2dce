/**
 * Bench peer: our node sending and receiving files. Like node.ts, plus: `prepareFile { bytes }` makes
 * the sender write a file of that size from the test pool (before any timing) and answer `prepared`;
 * `sendFile` sends it with `node.sendFile()` and answers `fileSent`; the receiver, started with
 * `files.dir` in a temporary folder, answers `fileDone` once a file is verified (SHA-256) and in
 * place, then deletes it.
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode, loopbackOnly } from '../../src/index.js';
import { makePool, runPeer, type Command } from './harness.js';

await runPeer(async (ctx) => {
  const { signalingUrl } = ctx.config as { signalingUrl: string };
  const dir = mkdtempSync(join(tmpdir(), 'p2p-bench-files-'));
  const node = createNode({ signalingUrl, candidateFilter: loopbackOnly, files: { dir } });
  const path = join(dir, 'bench.bin');
  node.transfers$.subscribe((step) => {
    if (step.direction !== 'in' || (step.state !== 'done' && step.state !== 'failed')) return;
    if (step.path) unlinkSync(step.path);
    ctx.emit({ ev: 'fileDone', ok: step.state === 'done', message: step.error?.message });
  });
  let target: string | undefined;
  const connected = new Promise<string>((resolve, reject) => {
    ctx.onCommand((command: Command) => {
      if (command.cmd === 'connect') node.connectToNode(command.peer as string).then(() => resolve(command.peer as string), reject);
      else if (command.cmd === 'peer') resolve(command.peer as string);
      else if (command.cmd === 'prepareFile') {
        const pool = makePool();
        const bytes = command.bytes as number;
        writeFileSync(path, '');
        for (let at = 0; at < bytes; at += pool.length) writeFileSync(path, pool.subarray(0, Math.min(pool.length, bytes - at)), { flag: 'a' });
        ctx.emit({ ev: 'prepared' });
      } else if (command.cmd === 'sendFile') {
        const started = performance.now();
        node.sendFile(target!, path).then(
          () => ctx.emit({ ev: 'fileSent', ok: true, ms: performance.now() - started }),
          (err: Error) => ctx.emit({ ev: 'fileSent', ok: false, message: err.message }),
        );
      }
    });
  });
  await node.start();
  ctx.emit({ ev: 'id', id: node.nodeId });
  target = await connected;
  const peer = target;
  return {
    send: (message) => node.send(peer, message),
    close: async () => {
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
