import { Encoder, PacketType } from 'socket.io-parser';
import { describe, expect, it } from 'vitest';
import {
  channelNode,
  eventFrame,
  nodeChannel,
  parseClusterMessage,
  replaceMessage,
  signalMessage,
} from '../src/server/clusterMessages.js';
import { Envelopes, newSessionId } from '../src/wire/envelope.js';
import { generateIdentity } from '../src/wire/identity.js';
import type { SignalDelivery } from '../src/wire/protocol.js';

/** A real signal delivery, SDP text with quotes, newlines and non-ASCII included. */
function delivery(): SignalDelivery {
  const [from, to] = [generateIdentity(), generateIdentity()];
  const envelope = new Envelopes(from).seal(to.nodeId, newSessionId(), { type: 'offer', sdp: 'v=0\r\no=- "ü" 1 IN IP4 127.0.0.1\r\n' });
  return { from: from.nodeId, envelope };
}

describe('cluster messages', () => {
  it('name a node’s channel and read the node back', () => {
    const nodeId = generateIdentity().nodeId;
    expect(nodeChannel(nodeId)).toBe(`p2p-signaling/1/node/${nodeId}`);
    expect(channelNode(nodeChannel(nodeId))).toBe(nodeId);
    expect(channelNode(`p2p-signaling#/#node:${nodeId}#`)).toBeUndefined();
  });

  it('carry a signal’s JSON and a replacement’s session id unchanged', () => {
    const json = JSON.stringify(delivery());
    expect(parseClusterMessage(signalMessage(json))).toEqual({ kind: 'signal', delivery: json });
    expect(parseClusterMessage(replaceMessage('Zr6mXc0tN8eUAAAB'))).toEqual({ kind: 'replace', keep: 'Zr6mXc0tN8eUAAAB' });
  });

  it('are dropped when they are neither kind', () => {
    for (const junk of ['', 's', 'r', 'x{}', 's[]', 's{"a":1', 'sa}', '{"a":1}']) expect(parseClusterMessage(junk)).toBeUndefined();
  });
});

describe('eventFrame', () => {
  it('is the packet Socket.IO’s own encoder writes for socket.emit(event, payload)', () => {
    const payload = delivery();
    const encoded = new Encoder().encode({ type: PacketType.EVENT, nsp: '/', data: ['signal', payload] });
    expect([eventFrame('signal', JSON.stringify(payload))]).toEqual(encoded);
  });
});
