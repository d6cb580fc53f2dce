/**
 * Bench peer: our node — `createNode({ candidateFilter: loopbackOnly })` through a real signaling
 * server started by the parent, `node.send()` → `data$` with the data plane's defaults. The sender
 * awaits each `send()` (it resolves once the message fits within the 4 MiB high-water mark). Config: `{ signalingUrl, transitions?: boolean, inspect?: boolean }`;
 * `inspect` starts the live inspector server (the parent attaches an SSE client to it),
 * `transitions` subscribes to `transitions$`.
 */
import { createNode, loopbackOnly } from '../../src/index.js';
import { runPeer, type Command } from './harness.js';

await runPeer(async (ctx) => {
  const { signalingUrl, transitions, inspect } = ctx.config as { signalingUrl: string; transitions?: boolean; inspect?: boolean };
  const node = createNode({ signalingUrl, candidateFilter: loopbackOnly, ...(inspect ? { inspect: { port: 0 } } : {}) });
  let seen = 0;
  if (transitions) node.transitions$.subscribe((t) => (seen += t.to.length > 0 ? 1 : 0));
  let peerId: string | undefined;
  node.data$.subscribe(({ from, data }) => {
    peerId ??= from;
    if (typeof data !== 'string') ctx.deliver(data);
  });
  const connected = new Promise<string>((resolve, reject) => {
    ctx.onCommand((command: Command) => {
      if (command.cmd === 'connect') {
        const id = command.peer as string;
        node.connectToNode(id).then(() => resolve(id), reject);
      } else if (command.cmd === 'peer') {
        resolve(command.peer as string);
      }
    });
  });
  await node.start();
  ctx.emit({ ev: 'id', id: node.nodeId, inspectorUrl: node.inspectorUrl });
  peerId = await connected;
  const target = peerId;
  return {
    send: (message) => node.send(target, message),
    close: async () => {
      if (transitions) ctx.emit({ ev: 'transitions', seen });
      await node.stop();
    },
  };
});
