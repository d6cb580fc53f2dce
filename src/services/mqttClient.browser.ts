/**
 * The browser build's `mqttClient.ts`: without MQTT. The mqtt package's browser bundle alone is
 * ~100 KB gzipped, two thirds of the whole node's budget; a tab meets peers through a signaling
 * server (Socket.IO) instead.
 */
import type { CallbackLogicFunction } from 'xstate';
import type { CarrierCommand, SocketEvent, SocketInput } from './socketClient.js';

/** Rejects at once, so the signaling machine fails over to the next URL or reports the reason. */
export const mqttSession: CallbackLogicFunction<CarrierCommand, SocketEvent, SocketInput, SocketEvent> = ({ input, sendBack }) => {
  sendBack({ type: 'SOCKET.REJECTED', error: { code: 'ERR_BAD_REQUEST', message: `${input.url}: MQTT signaling is not in the browser build; use a signaling server` } });
};
