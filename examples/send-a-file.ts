import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode, createSignalingServer, loopbackOnly } from 'p2p-dht-node';

const server = await createSignalingServer({ port: 0, host: '127.0.0.1' });
const inbox = mkdtempSync(join(tmpdir(), 'inbox-'));
const photo = join(mkdtempSync(join(tmpdir(), 'outbox-')), 'photo.jpg');
writeFileSync(photo, Buffer.alloc(5_000_000, 7));

const alice = createNode({ signalingUrl: server.url, candidateFilter: loopbackOnly });
// files.dir: take every offer into this folder; without it, accept or decline each one from files$.
const bob = createNode({ signalingUrl: server.url, candidateFilter: loopbackOnly, files: { dir: inbox } });
await Promise.all([alice.start(), bob.start()]);
await alice.connectToNode(bob.nodeId);

bob.transfers$.subscribe((t) => t.state === 'done' && console.log(`bob saved ${t.name} (${t.size} bytes) in ${t.path === join(inbox, 'photo.jpg') ? 'his inbox' : t.path}`));
const sent = await alice.sendFile(bob.nodeId, photo); // resolves once bob checked its SHA-256
console.log(`alice sent ${sent.size} bytes, sha256 ${sent.sha256.slice(0, 16)}…`);

await Promise.all([alice.stop(), bob.stop()]);
await server.close();
