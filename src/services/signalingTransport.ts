/**
 * The carrier the signaling machine invokes: a Socket.IO server or an MQTT broker, chosen by the URL
 * of each attempt, so one failover list may mix both. Both speak the same events (`SocketEvent`,
 * `SocketCommand`), so the machine does not know which it runs.
 */
import { fromCallback } from 'xstate';
import { isMqttUrl } from '../wire/mqtt.js';
import { mqttSession } from './mqttClient.js';
import { socketIoSession, type CarrierCommand, type SocketEvent, type SocketInput } from './socketClient.js';

/**
 * Actor logic of one signaling session through the server or broker at `input.url`.
 *
 * @example
 * ```ts
 * const signaling = signalingMachine.provide({ actors: { socket: signalingTransport } }); // the default
 * ```
 */
export const signalingTransport = fromCallback<CarrierCommand, SocketInput, SocketEvent>((params) =>
  isMqttUrl(params.input.url) ? mqttSession(params) : socketIoSession(params),
);
