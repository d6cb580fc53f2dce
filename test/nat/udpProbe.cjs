// UDP probe for the lab: sends COUNT numbered datagrams to an echo, prints each reply's RTT and the
// address the echo saw, as JSON. Usage: node udpProbe.cjs ADDRESS PORT COUNT INTERVAL_MS WAIT_MS LOCAL_PORT.
const [address, port, count, interval, wait, local] = process.argv.slice(2).map((v, i) => (i ? Number(v) : v));
const s = require('node:dgram').createSocket('udp4');
const sentAt = [], replies = [];
let answered = 0, timer;
const done = () => { clearTimeout(timer); console.log(JSON.stringify(replies.filter(Boolean))); s.close(); };
s.on('message', (m) => {
  const [seq, from] = m.toString().split(' ');
  if (sentAt[seq] === undefined || replies[seq]) return;
  replies[seq] = { rtt: Number(process.hrtime.bigint() - sentAt[seq]) / 1e6, from };
  if (++answered === count) done();
});
s.bind(local, () => {
  let seq = 0;
  const tick = () => {
    sentAt[seq] = process.hrtime.bigint();
    s.send(String(seq++), port, address);
    timer = setTimeout(seq < count ? tick : done, seq < count ? interval : wait);
  };
  tick();
});
