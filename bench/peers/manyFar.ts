/**
 * Section 4's far ends: `count` nodes in one process that accept the hub's connections and, when
 * told, all send to it at once. Started by bench/manyPeers.ts with `node --expose-gc --import tsx`;
 * bounded by boundChild().
 */
import { createNode, loopbackOnly, type P2PNode } from '../../src/index.js';
import { boundChild, now, serve } from '../child.js';
import { cpuMs, usage, type FarRequest, type Ready, type SendResult } from './manyProtocol.js';

const config = JSON.parse(process.argv[2] ?? '{}') as { signalingUrl: string; count: number; deadlineMs: number };
boundChild('manyFar', config.deadlineMs);

const dropped: string[] = [];
const nodes: P2PNode[] = Array.from({ length: config.count }, () =>
  createNode({ signalingUrl: config.signalingUrl, candidateFilter: loopbackOnly }),
);
for (const node of nodes) {
  node.peerEvents$.subscribe((e) => {
    // Recorded as this node's id: the parent knows which far nodes the hub disconnected on purpose.
    if (e.type === 'closed' && e.wasConnected) dropped.push(node.nodeId);
  });
}

async function sendAll(from: string[], to: string, bytesPerNode: number, messageSize: number): Promise<SendResult> {
  const payload = new Uint8Array(messageSize).fill(7);
  const errors: string[] = [];
  const senders = nodes.filter((n) => from.includes(n.nodeId));
  const cpu = process.cpuUsage();
  const startedAt = now();
  await Promise.all(
    senders.map(async (node) => {
      try {
        for (let sent = 0; sent < bytesPerNode; sent += messageSize) {
          const size = Math.min(messageSize, bytesPerNode - sent);
          await node.send(to, size === messageSize ? payload : payload.subarray(0, size));
        }
      } catch (err) {
        errors.push((err as Error).message);
      }
    }),
  );
  return { startedAt, doneAt: now(), errors, cpuMs: cpuMs(cpu) };
}

serve<FarRequest>(async (req) => {
  if (req.cmd === 'send') return sendAll(req.from, req.to, req.bytesPerNode, req.messageSize);
  if (req.cmd === 'measure') return usage(dropped);
  throw new Error(`unknown command ${(req as { cmd: string }).cmd}`);
});

await Promise.all(nodes.map((n) => n.start()));
process.send!({ ready: true, ids: nodes.map((n) => n.nodeId), usage: usage(dropped) } satisfies Ready);
