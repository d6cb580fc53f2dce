import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../src/wire/identity.js';
import { brokerAddress, brokerProblem, isMqttUrl, presenceRecord, readPresence, PRESENCE_SKEW_MS, PRESENCE_TTL_MS } from '../src/wire/mqtt.js';

describe('MQTT signaling URLs (docs/protocol.md §17.1)', () => {
  it('names a broker by mqtt(s):// or by a ws(s):// path ending in /mqtt, and a Socket.IO server otherwise', () => {
    for (const url of ['mqtt://b', 'mqtts://b:8883/x', 'ws://b:8083/mqtt', 'wss://b/a/mqtt?prefix=p']) expect(isMqttUrl(url)).toBe(true);
    for (const url of ['http://b', 'ws://b:3000', 'wss://b/socket.io', 'ws://b/mqttx', 'not a url']) expect(isMqttUrl(url)).toBe(false);
  });

  it('splits the broker from the prefix: the path over TCP, the prefix parameter over WebSocket, with credentials kept', () => {
    expect(brokerAddress('mqtt://127.0.0.1:1883/chat/v2')).toEqual({ url: 'mqtt://127.0.0.1:1883', prefix: 'chat/v2' });
    expect(brokerAddress('mqtts://u:p@b')).toEqual({ url: 'mqtts://u:p@b', prefix: 'p2p-dht-node' });
    expect(brokerAddress('wss://b:8084/mqtt?prefix=room')).toEqual({ url: 'wss://b:8084/mqtt', prefix: 'room' });
    expect(brokerAddress('ws://b/mqtt')).toEqual({ url: 'ws://b/mqtt', prefix: 'p2p-dht-node' });
  });

  it('refuses prefixes with wildcards, empty levels or foreign characters, and says nothing of other URLs', () => {
    for (const url of ['mqtt://b/a/+', 'mqtt://b/a/#', 'mqtt://b/a//b', 'mqtt://b/$SYS', 'mqtt://b/a%20b']) expect(brokerProblem(url)).toMatch(/MQTT topic prefix/);
    expect(brokerProblem('mqtt://b/ok_1.2-x/y')).toBeUndefined();
    expect(brokerProblem('http://b/+')).toBeUndefined();
  });
});

describe('presence records (docs/protocol.md §17.2)', () => {
  const node = generateIdentity();
  const now = 1_800_000_000_000;
  const record = (at = now) => Buffer.from(presenceRecord(node, at));

  it('give the key of the node named by the topic, while fresh', () => {
    expect(readPresence(node.nodeId, record(), now)).toBe(node.publicKey);
    expect(readPresence(node.nodeId, record(now - PRESENCE_TTL_MS), now)).toBe(node.publicKey);
    expect(readPresence(node.nodeId, record(now + PRESENCE_SKEW_MS), now)).toBe(node.publicKey);
  });

  it('are ignored when expired, from the future, of another node, altered, or not a record at all', () => {
    expect(readPresence(node.nodeId, record(now - PRESENCE_TTL_MS - 1), now)).toBeUndefined();
    expect(readPresence(node.nodeId, record(now + PRESENCE_SKEW_MS + 1), now)).toBeUndefined();
    expect(readPresence(generateIdentity().nodeId, record(), now)).toBeUndefined();
    const altered = { ...(JSON.parse(record().toString()) as object), ts: now + 1 };
    expect(readPresence(node.nodeId, Buffer.from(JSON.stringify(altered)), now)).toBeUndefined();
    for (const junk of ['', 'x', 'null', '[]', '{"v":1}', 'A'.repeat(2000)]) expect(readPresence(node.nodeId, Buffer.from(junk), now)).toBeUndefined();
    expect(readPresence('not an id', record(), now)).toBeUndefined();
  });
});
