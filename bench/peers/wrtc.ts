/**
 * Bench peer: bare `@roamhq/wrtc` RTCPeerConnection + RTCDataChannel (reliable, ordered), the way a
 * competent user would drive it: candidates filtered to loopback, messages > 256 KiB sent as 256 KiB
 * chunks, `bufferedAmount` kept ≤ 4 MiB by polling (the binding has no bufferedamountlow event and
 * silently drops data past ~16 MiB). Signals are relayed by the parent over stdin/stdout.
 * Usage: node --import tsx bench/peers/wrtc.ts <sender|receiver> ['{"wait":"immediate","chunkSize":262144}']
 */
import { createRequire } from 'node:module';
import { acceptsCandidate, filterSdp, loopbackOnly } from '../../src/webrtc/candidates.js';
import { pacedSender, reassembler, runPeer, waitImmediate, waitTimeout, type Command } from './harness.js';

interface Channel {
  binaryType: string;
  bufferedAmount: number;
  readyState: string;
  send(data: Uint8Array): void;
  close(): void;
  onopen: (() => void) | null;
  onmessage: ((event: { data: ArrayBuffer | string }) => void) | null;
  onclose: (() => void) | null;
}
interface Description {
  type: 'offer' | 'answer';
  sdp: string;
}
interface IceCandidate {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}
interface PeerConnection {
  createDataChannel(label: string, init: { ordered: boolean }): Channel;
  createOffer(): Promise<Description>;
  createAnswer(): Promise<Description>;
  setLocalDescription(d: Description): Promise<void>;
  setRemoteDescription(d: Description): Promise<void>;
  addIceCandidate(c: IceCandidate): Promise<void>;
  close(): void;
  onicecandidate: ((event: { candidate: IceCandidate | null }) => void) | null;
  ondatachannel: ((event: { channel: Channel }) => void) | null;
}

const require = createRequire(import.meta.url);
const wrtc = require('@roamhq/wrtc') as { RTCPeerConnection: new (config: object) => PeerConnection };

await runPeer(async (ctx) => {
  const chunkSize = Number(ctx.config.chunkSize ?? 256 * 1024);
  const wait = ctx.config.wait === 'immediate' ? waitImmediate : waitTimeout;
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] });
  pc.onicecandidate = ({ candidate }) => {
    if (candidate && acceptsCandidate(loopbackOnly, candidate.candidate)) {
      ctx.emit({ ev: 'signal', data: { candidate: { candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex } } });
    }
  };
  const opened = new Promise<Channel>((resolve) => {
    const setupChannel = (channel: Channel): void => {
      channel.binaryType = 'arraybuffer';
      const onChunk = reassembler(() => ctx.expectedSize, ctx.deliver);
      channel.onmessage = ({ data }) => {
        if (typeof data !== 'string') onChunk(new Uint8Array(data));
      };
      if (channel.readyState === 'open') resolve(channel);
      else channel.onopen = () => resolve(channel);
    };
    if (ctx.role === 'sender') setupChannel(pc.createDataChannel('bench', { ordered: true }));
    else pc.ondatachannel = ({ channel }) => setupChannel(channel);
  });

  // Signals are applied strictly in order: a candidate must wait for the remote description.
  let chain = Promise.resolve();
  ctx.onCommand((command: Command) => {
    if (command.cmd !== 'signal') return;
    const data = command.data as Partial<Description> & { candidate?: IceCandidate };
    chain = chain.then(async () => {
      if (data.type && data.sdp) {
        await pc.setRemoteDescription({ type: data.type, sdp: filterSdp(loopbackOnly, data.sdp) });
        if (data.type === 'offer') {
          const answer = await pc.createAnswer();
          await pc.setLocalDescription(answer);
          ctx.emit({ ev: 'signal', data: { type: 'answer', sdp: filterSdp(loopbackOnly, answer.sdp) } });
        }
      } else if (data.candidate && acceptsCandidate(loopbackOnly, data.candidate.candidate)) {
        await pc.addIceCandidate(data.candidate);
      }
    });
  });
  if (ctx.role === 'sender') {
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    ctx.emit({ ev: 'signal', data: { type: 'offer', sdp: filterSdp(loopbackOnly, offer.sdp) } });
  }
  const channel = await opened;
  return {
    send: pacedSender((chunk) => channel.send(chunk), () => channel.bufferedAmount, { chunkSize, wait }),
    close: () => {
      channel.close();
      pc.close();
    },
  };
});
