import { createNode, createSignalingServer, loopbackOnly } from 'p2p-dht-node';

// The server is needed only to join: after that, nodes find each other and connect through the DHT.
const server = await createSignalingServer({ port: 0, host: '127.0.0.1' });
const nodes = Array.from({ length: 4 }, () => createNode({ signalingUrl: server.url, candidateFilter: loopbackOnly, dht: true }));
for (const node of nodes) await node.start(); // registers, then joins through the DHT nodes the server introduces
const [alice, bob, carol, dave] = nodes as [typeof nodes[0], typeof nodes[0], typeof nodes[0], typeof nodes[0]];
await server.close();

await alice.join('chat/room-42'); // a signed announcement at the nodes closest to sha256(topic)
await bob.join('chat/room-42');
const found = await carol.lookup('chat/room-42');
console.log(`carol found ${found.length} nodes under chat/room-42`);
for (const id of found) await carol.connectToNode(id); // offer, answer and candidates routed through the overlay
console.log(`carol connected to ${carol.peers().filter((p) => found.includes(p.id) && p.state === 'connected').length} of them without a server`);

await dave.put({ key: 'profile', value: 'dave, in room 42', seq: 1 }); // signed, seq must rise
const profile = await alice.get(dave.nodeId, 'profile');
console.log(`alice read dave's profile: ${Buffer.from(profile!.value).toString()} (seq ${profile!.seq})`);

await Promise.all(nodes.map((n) => n.stop()));
