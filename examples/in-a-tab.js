// A browser tab as a node: it connects to the peer whose id follows the '#' in the page's URL, says
// hello, and sends it a small file. Bundle it with the page (e.g. esbuild) or import the built module.
import { createNode, leaseBrowserIdentity } from 'p2p-dht-node/browser';

const peer = location.hash.slice(1);
const { identity } = await leaseBrowserIdentity(); // kept in IndexedDB: a reload is the same node
const node = createNode({ signalingUrl: location.origin, identity });
node.data$.subscribe(({ from, data }) => console.log(`${from.slice(0, 8)}: ${data}`));
await node.start();

await node.connectToNode(peer);
await node.send(peer, 'hello from a tab');
const sent = await node.sendFile(peer, new File(['notes from the tab\n'], 'notes.txt')); // a File or a Blob
console.log(`notes.txt arrived, sha256 ${sent.sha256.slice(0, 16)}…`);
