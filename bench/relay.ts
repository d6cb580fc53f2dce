/**
 * The minimal signaling baseline for the setup bench: a Socket.IO server on 127.0.0.1 that relays
 * opaque payloads between sockets by socket id, and its client. No registration, no signatures, no
 * rate limit, no validation — the least any signaling path can do, so that `connectToNode()` through
 * our signaling server can be compared against it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io, type Socket } from 'socket.io-client';

/** What one relay client sends to another: simple-peer's signal data, untouched. */
export interface RelayMessage {
  from: string;
  data: unknown;
}

export interface Relay {
  url: string;
  close(): Promise<void>;
}

/** Starts the relay on 127.0.0.1 at a free port. `signal {to, data}` reaches socket `to` as `signal {from, data}`. */
export async function startRelay(): Promise<Relay> {
  const http = createServer();
  const server = new Server(http, { transports: ['websocket'], serveClient: false });
  server.on('connection', (socket) => {
    socket.on('signal', (msg: { to: string; data: unknown }) => {
      // Every socket is in the room named after its id, so this reaches exactly that socket.
      server.to(msg.to).emit('signal', { from: socket.id, data: msg.data } satisfies RelayMessage);
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => void server.close(() => resolve())),
  };
}

/** A connected relay client; its address is `socket.id`. */
export async function relayClient(url: string): Promise<Socket> {
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}
