/**
 * Bench peer: bare `simple-peer` 9.11 on `@roamhq/wrtc`, driven as a competent user would: trickle
 * signals filtered to loopback, `peer.send()` (not the stream `write()`, whose drain path polls every
 * 150 ms), messages > 256 KiB sent as 256 KiB chunks and `peer._channel.bufferedAmount` kept ≤ 4 MiB
 * by polling; received through the `'data'` event. Signals are relayed by the parent.
 * Usage: node --import tsx bench/peers/simplePeer.ts <sender|receiver> ['{"wait":"immediate"}']
 */
import { createRequire } from 'node:module';
import SimplePeer from 'simple-peer';
import { acceptsCandidate, filterSdp, loopbackOnly } from '../../src/webrtc/candidates.js';
import { pacedSender, reassembler, runPeer, waitImmediate, waitTimeout, type Command } from './harness.js';

const require = createRequire(import.meta.url);
const wrtc = require('@roamhq/wrtc') as SimplePeer.Options['wrtc'];

await runPeer(async (ctx) => {
  const chunkSize = Number(ctx.config.chunkSize ?? 256 * 1024);
  const wait = ctx.config.wait === 'immediate' ? waitImmediate : waitTimeout;
  const peer = new SimplePeer({ initiator: ctx.role === 'sender', wrtc, trickle: true, config: { iceServers: [] } });
  peer.on('signal', (data: SimplePeer.SignalData) => {
    if ((data.type === 'offer' || data.type === 'answer') && data.sdp) {
      ctx.emit({ ev: 'signal', data: { type: data.type, sdp: filterSdp(loopbackOnly, data.sdp) } });
    } else if (data.candidate && acceptsCandidate(loopbackOnly, data.candidate.candidate)) {
      ctx.emit({ ev: 'signal', data: { type: 'candidate', candidate: data.candidate } });
    }
  });
  ctx.onCommand((command: Command) => {
    if (command.cmd !== 'signal') return;
    const data = command.data as SimplePeer.SignalData;
    if (data.sdp) peer.signal({ ...data, sdp: filterSdp(loopbackOnly, data.sdp) });
    else if (data.candidate && acceptsCandidate(loopbackOnly, data.candidate.candidate)) peer.signal(data);
  });
  const onChunk = reassembler(() => ctx.expectedSize, ctx.deliver);
  peer.on('data', (chunk: Uint8Array) => onChunk(chunk));
  peer.on('error', (err: Error) => ctx.emit({ ev: 'error', message: err.message }));
  await new Promise<void>((resolve) => peer.once('connect', () => resolve()));
  const channel = (peer as unknown as { _channel: { bufferedAmount: number } })._channel;
  return {
    send: pacedSender((chunk) => peer.send(chunk), () => channel.bufferedAmount, { chunkSize, wait }),
    close: () =>
      new Promise<void>((resolve) => {
        clearTimeout((peer as unknown as { _iceCompleteTimer?: NodeJS.Timeout })._iceCompleteTimer);
        peer.once('close', () => resolve());
        setTimeout(resolve, 500);
        peer.destroy();
      }),
  };
});
