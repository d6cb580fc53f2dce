import { firstValueFrom, take, toArray } from 'rxjs';
import { createNode, createSignalingServer, loopbackOnly } from 'p2p-dht-node';

// A signaling server only introduces nodes; after connecting, data flows peer to peer.
const server = await createSignalingServer({ port: 0, host: '127.0.0.1' });

const alice = createNode({ signalingUrl: server.url, candidateFilter: loopbackOnly });
const bob = createNode({ signalingUrl: server.url, candidateFilter: loopbackOnly });
await Promise.all([alice.start(), bob.start()]);

const bobReceived = firstValueFrom(bob.data$.pipe(take(2), toArray()));
alice.transitions$.subscribe((t) => t.actor.startsWith('peer.') && console.log(`alice ${t.actor.slice(0, 13)}: ${t.from || '∅'} → ${t.to}`));

await alice.connectToNode(bob.nodeId); // signed offer/answer, ICE, DTLS, fingerprint check
await alice.send(bob.nodeId, 'hello, bob');
await alice.send(bob.nodeId, new Uint8Array([1, 2, 3])); // binary stays binary
for (const { from, data } of await bobReceived) console.log(`bob got ${typeof data === 'string' ? data : `${data.length} bytes`} from ${from.slice(0, 8)}`);

console.log(alice.peers());
await Promise.all([alice.stop(), bob.stop()]);
await server.close();
