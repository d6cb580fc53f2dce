// UDP echo for the lab: answers each datagram with it plus the sender's address:port (the NAT mapping).
// Usage: node udpEcho.cjs ADDRESS PORT; prints 'ready' once bound.
const [address, port] = process.argv.slice(2);
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => s.send(Buffer.concat([m, Buffer.from(' ' + r.address + ':' + r.port)]), r.port, r.address));
s.bind(Number(port), address, () => console.log('ready'));
