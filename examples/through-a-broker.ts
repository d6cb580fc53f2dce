import { firstValueFrom } from 'rxjs';
import { createNode, loopbackOnly } from 'p2p-dht-node';

// Any MQTT 5 broker will do; the path is the topic prefix under which nodes meet.
const broker = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883/p2p-example';

const alice = createNode({ signalingUrl: broker, candidateFilter: loopbackOnly });
const bob = createNode({ signalingUrl: broker, candidateFilter: loopbackOnly });
await Promise.all([alice.start(), bob.start()]); // each publishes its signed presence record

const got = firstValueFrom(bob.data$);
await alice.connectToNode(bob.nodeId); // key from bob's presence record, then encrypted offer/answer
await alice.send(bob.nodeId, 'no server of ours in between');
console.log(`bob got "${(await got).data}" from ${alice.nodeId.slice(0, 8)}`);
await Promise.all([alice.stop(), bob.stop()]);
