/**
 * What the servers of a cluster say to each other on a node's Redis channel (docs/protocol.md §5.1),
 * and the Socket.IO frame a relayed signal becomes. Pure: cluster.ts does the Redis side.
 */

/** Every channel of this cluster format starts with this; a changed format gets a new one. */
const CHANNEL_PREFIX = 'p2p-signaling/1/node/';

/** The sharded pub/sub channel of `nodeId`: subscribed to by the server(s) holding a session of it. */
export const nodeChannel = (nodeId: string): string => CHANNEL_PREFIX + nodeId;

/** The node id of a {@link nodeChannel}, or undefined for any other channel. */
export const channelNode = (channel: string): string | undefined =>
  channel.startsWith(CHANNEL_PREFIX) ? channel.slice(CHANNEL_PREFIX.length) : undefined;

/** A message on a node's channel. */
export type ClusterMessage =
  /** Deliver this signal to the node: `delivery` is the JSON text of the `signal` event's payload. */
  | { kind: 'signal'; delivery: string }
  /** A newer session of the node registered elsewhere: every session of it but `keep` (a Socket.IO id) must go. */
  | { kind: 'replace'; keep: string };

/**
 * The message telling the node's server to deliver `delivery`, the JSON text of a `signal` event's
 * payload: `s` and the text, so no server parses or encodes it again.
 *
 * @example
 * signalMessage('{"from":"ab…","envelope":{…}}') // 's{"from":"ab…","envelope":{…}}'
 */
export const signalMessage = (delivery: string): string => `s${delivery}`;

/** The message replacing every session of the node but the one with Socket.IO id `keep`: `r` and the id. */
export const replaceMessage = (keep: string): string => `r${keep}`;

/** `message` read back, or undefined when it is neither kind (it is then dropped). */
export function parseClusterMessage(message: string): ClusterMessage | undefined {
  const body = message.slice(1);
  // A signal is a JSON object written by a server of this cluster; only its ends are checked, since
  // parsing it would cost what this format saves. The client's Socket.IO parser checks the rest.
  if (message.startsWith('s{') && message.endsWith('}')) return { kind: 'signal', delivery: body };
  if (message.startsWith('r') && body.length > 0) return { kind: 'replace', keep: body };
  return undefined;
}

/**
 * The text of the Socket.IO packet `socket.emit(event, payload)` writes on the main namespace, for a
 * `payload` already encoded as JSON text without binary parts: type 2 (EVENT), no namespace, no ack id.
 * Engine.IO adds its own message type when sending it.
 *
 * @example
 * eventFrame('signal', '{"from":"ab"}') // '2["signal",{"from":"ab"}]'
 */
export const eventFrame = (event: string, payload: string): string => `2[${JSON.stringify(event)},${payload}]`;
