/**
 * Signaling through an MQTT broker (docs/protocol.md §17), as actor logic with the same events as the
 * Socket.IO client: the only file that imports `mqtt`. One actor is one broker session; the signaling
 * machine reconnects with backoff, so the client's own reconnection is off. The broker is not
 * trusted: envelopes are signed and always encrypted, presence records signed.
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { CallbackLogicFunction } from 'xstate';
import { brokerAddress, nodeTopic, presenceRecord, presenceTopic, readPresence, PRESENCE_REFRESH_MS, PRESENCE_TTL_MS } from '../wire/mqtt.js';
import { toBase64Url } from '../wire/base64url.js';
import { randomBytes } from '../wire/crypto.js';
import type { Envelope, ProtocolError } from '../wire/protocol.js';
import { TokenBucket } from '../wire/tokenBucket.js';
import { KeyGate } from './keyGate.js';
import { openSignal } from './openSignal.js';
import { Pacer } from './pacer.js';
import type { CarrierCommand, SocketCommand, SocketEvent, SocketInput } from './socketClient.js';

/** How long a lookup waits for a node's retained presence record before the node counts as absent. */
const PRESENCE_WAIT_MS = 3_000;
/** Our publishes: signals of a few connections at once, never a storm on a shared broker. */
const PUBLISH_PACE = { perSecond: 20, burst: 40 };
/** Messages on our topic we read; beyond this (garbage, a flood) they are dropped unread. */
const RECEIVE_LIMIT = { perSecond: 50, burst: 100 };
/** Largest message on our topic we read (an envelope holds at most 16 KiB of data). */
const MAX_MESSAGE_BYTES = 24 * 1024;
/** Largest packet the broker may send us: a message and its topic and properties. */
const MAX_PACKET_BYTES = 32 * 1024;
/** Signals are useless after the envelope skew window: the broker need not keep them longer. */
const SIGNAL_EXPIRY_S = 120;
const DROP_LOG_EVERY_MS = 10_000;

/**
 * The broker session: connect, subscribe to our topic, publish our presence (retained, refreshed),
 * then relay. `SOCKET.REGISTERED` once the presence is acknowledged.
 */
export const mqttSession: CallbackLogicFunction<CarrierCommand, SocketEvent, SocketInput, SocketEvent> = ({ input, sendBack, receive }) => {
  const { identity, envelopes, logger: log } = input;
  const { url, prefix } = brokerAddress(input.url);
  const own = nodeTopic(prefix, identity.nodeId);
  const presence = presenceTopic(prefix, identity.nodeId);
  const options: IClientOptions = {
    protocolVersion: 5,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    keepalive: 30,
    // Random, so nobody can take our session over by reusing the id (brokers close the older one).
    clientId: `p2p-${toBase64Url(randomBytes(9))}`,
    // A node that vanishes takes its presence with it: an empty retained message deletes the record.
    will: { topic: presence, payload: Buffer.alloc(0), qos: 1, retain: true },
    // The broker drops larger messages rather than send them (MQTT 5): nobody makes us buffer 256 MB.
    properties: { maximumPacketSize: MAX_PACKET_BYTES },
  };
  const client: MqttClient = connect(url, options);
  const pacer = new Pacer(PUBLISH_PACE);
  const inbound = new TokenBucket(RECEIVE_LIMIT);
  const lookups = new Map<string, () => void>();
  const timers = new Set<NodeJS.Timeout>();
  let dropped = 0;
  let lastDropLog = -Infinity;

  const later = (ms: number, fn: () => void): NodeJS.Timeout => {
    const timer = setTimeout(() => (timers.delete(timer), fn()), ms);
    timer.unref();
    timers.add(timer);
    return timer;
  };
  const publish = (to: string, envelope: Envelope, answered: (error?: ProtocolError) => void): void =>
    pacer.run((done) =>
      client.publish(nodeTopic(prefix, to), JSON.stringify(envelope), { qos: 1, properties: { messageExpiryInterval: SIGNAL_EXPIRY_S } }, (err) => {
        done();
        answered(err ? { code: 'ERR_BAD_REQUEST', message: `the broker did not take the signal: ${err.message}` } : undefined);
      }),
    );
  const lookup = (to: string, answered: (error?: ProtocolError) => void): void => {
    const topic = presenceTopic(prefix, to);
    const finish = (error?: ProtocolError): void => {
      clearTimeout(timer);
      lookups.delete(topic);
      client.unsubscribe(topic);
      answered(error);
    };
    const timer = later(PRESENCE_WAIT_MS, () => finish({ code: 'ERR_UNKNOWN_PEER', message: 'no fresh presence record of that node on the broker' }));
    lookups.set(topic, () => finish());
    client.subscribe(topic, { qos: 1 });
  };
  const gate = new KeyGate<SocketCommand>({ envelopes, logger: log, helloTimeoutMs: PRESENCE_WAIT_MS, lookup });
  const failed = (command: SocketCommand, error: ProtocolError): void =>
    sendBack({ type: 'SOCKET.SIGNAL_FAILED', to: command.to, session: command.session, error });
  const relay = (command: SocketCommand): void =>
    publish(command.to, envelopes.seal(command.to, command.session, command.data), (error) => error && failed(command, error));

  const announce = (): void => {
    pacer.run((done) =>
      client.publish(presence, presenceRecord(identity, Date.now()), { qos: 1, retain: true, properties: { messageExpiryInterval: PRESENCE_TTL_MS / 1000 } }, (err) => {
        done();
        if (err) return sendBack({ type: 'SOCKET.DISCONNECTED', reason: `the broker did not take our presence: ${err.message}` });
        if (!registered) sendBack({ type: 'SOCKET.REGISTERED', nodeId: identity.nodeId });
        registered = true;
        later(PRESENCE_REFRESH_MS, announce);
      }),
    );
  };
  let registered = false;

  const drop = (why: string, topic: string): void => {
    dropped++;
    const now = Date.now();
    if (now - lastDropLog < DROP_LOG_EVERY_MS) return;
    lastDropLog = now;
    log.warn({ why, topic: topic.slice(0, 200), dropped }, 'dropping messages from the broker');
  };
  const onMessage = (topic: string, payload: Buffer): void => {
    const found = lookups.get(topic);
    if (found) {
      const nodeId = topic.slice(topic.lastIndexOf('/') + 1);
      const key = readPresence(nodeId, payload, Date.now());
      if (key && envelopes.keys.learn(nodeId, key, true)) found();
      return;
    }
    if (topic !== own) return;
    if (!inbound.take()) return drop('flood', topic);
    if (payload.length > MAX_MESSAGE_BYTES) return drop('oversized', topic);
    let envelope: unknown;
    try {
      envelope = JSON.parse(payload.toString('utf8'));
    } catch {
      return drop('not JSON', topic);
    }
    const signal = openSignal(envelopes, gate, envelope, log, (to, hello) => publish(to, hello, () => {}));
    if (!signal) return;
    // Only a node's own code could have sent it plain, and ours never does through a broker.
    if (!signal.sealed) return drop('unencrypted', topic);
    sendBack({ type: 'SOCKET.SIGNAL', signal });
  };

  client.on('connect', () => {
    // Signals are small and latency-bound: Nagle's algorithm against delayed ACKs costs 40 ms a hop.
    (client.stream as { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
    sendBack({ type: 'SOCKET.CONNECTED' });
    client.subscribe(own, { qos: 1 }, (err, granted) => {
      const refused = granted?.find((g) => g.qos >= 0x80);
      if (err || refused) {
        return sendBack({ type: 'SOCKET.REJECTED', error: { code: 'ERR_AUTH', message: `the broker refused our subscription${err ? `: ${err.message}` : ''}` } });
      }
      announce();
    });
  });
  client.on('message', (topic, payload) => {
    try {
      onMessage(topic, payload);
    } catch (err) {
      drop(`unreadable: ${(err as Error).message}`, topic);
    }
  });
  client.on('error', (err) => sendBack({ type: 'SOCKET.DISCONNECTED', reason: err.message }));
  client.on('close', () => sendBack({ type: 'SOCKET.DISCONNECTED', reason: 'broker connection closed' }));

  receive((command) => (command.type === 'PREPARE' ? gate.prepare(command.to) : gate.send(command, relay, failed)));

  return () => {
    gate.close();
    pacer.close();
    for (const timer of timers) clearTimeout(timer);
    client.removeAllListeners();
    client.on('error', () => {});
    // Our presence goes now rather than at its expiry; a dead broker has it go with its will.
    if (client.connected) client.publish(presence, Buffer.alloc(0), { qos: 0, retain: true });
    client.end(false);
    setTimeout(() => client.end(true), 1000).unref();
  };
};
