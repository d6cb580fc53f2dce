/**
 * Just enough MQTT 5 to drive a broker from bench/peers/signalingLoad.ts at the cost of a text
 * protocol: the packets a signaling node sends (CONNECT, SUBSCRIBE, PUBLISH at QoS 1, PUBACK) and
 * reading what a broker sends back. No properties are sent; those received are skipped.
 */

function varint(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return Buffer.from(bytes);
}

const text = (s: string): Buffer => {
  const body = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([body.length >> 8, body.length & 0xff]), body]);
};
const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
const NO_PROPERTIES = Buffer.from([0]);

function packet(first: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([first]), varint(body.length), body]);
}

/** CONNECT, MQTT 5, clean start, keepalive 60 s. */
export const connectPacket = (clientId: string): Buffer => packet(0x10, text('MQTT'), Buffer.from([5, 0x02, 0, 60]), NO_PROPERTIES, text(clientId));
/** SUBSCRIBE to one topic at QoS 1. */
export const subscribePacket = (id: number, topic: string): Buffer => packet(0x82, u16(id), NO_PROPERTIES, text(topic), Buffer.from([0x01]));
/** PUBLISH at QoS 1, retained or not. */
export const publishPacket = (id: number, topic: string, payload: string, retain = false): Buffer =>
  packet(0x32 | (retain ? 1 : 0), text(topic), u16(id), NO_PROPERTIES, Buffer.from(payload, 'utf8'));
/** PUBACK, success (MQTT 5 lets the reason code and properties go when both are empty). */
export const pubackPacket = (id: number): Buffer => packet(0x40, u16(id));

/** One packet from the broker, as the load client reads it. */
export type Received =
  | { kind: 'publish'; topic: string; payload: string; id: number | undefined }
  | { kind: 'connack' | 'suback' | 'puback'; reason: number }
  | { kind: 'other'; type: number };

function readVarint(buf: Buffer, at: number): [number, number] {
  let value = 0;
  for (let shift = 1, i = at; ; shift *= 128, i++) {
    value += (buf[i]! & 0x7f) * shift;
    if ((buf[i]! & 0x80) === 0) return [value, i + 1];
  }
}

/** Every whole packet in `frame` (a WebSocket message may hold several). */
export function readPackets(frame: Buffer): Received[] {
  const out: Received[] = [];
  for (let at = 0; at < frame.length; ) {
    const first = frame[at]!;
    const [length, start] = readVarint(frame, at + 1);
    const body = frame.subarray(start, start + length);
    at = start + length;
    const type = first >> 4;
    if (type === 3) {
      const topicLength = body.readUInt16BE(0);
      const topic = body.toString('utf8', 2, 2 + topicLength);
      let i = 2 + topicLength;
      const qos = (first >> 1) & 3;
      const id = qos > 0 ? body.readUInt16BE(i) : undefined;
      if (qos > 0) i += 2;
      const [properties, afterLength] = readVarint(body, i);
      out.push({ kind: 'publish', topic, payload: body.toString('utf8', afterLength + properties), id });
    } else if (type === 2) out.push({ kind: 'connack', reason: body[1] ?? 0 });
    else if (type === 9) {
      // SUBACK: packet id, properties, then one reason code per topic.
      const [properties, afterLength] = readVarint(body, 2);
      out.push({ kind: 'suback', reason: body[afterLength + properties] ?? 0x80 });
    }
    else if (type === 4) out.push({ kind: 'puback', reason: body.length > 2 ? body[2]! : 0 });
    else out.push({ kind: 'other', type });
  }
  return out;
}
