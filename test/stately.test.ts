import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startStatelyInspector, type SkySocket } from '../src/inspector/statelyInspector.js';
import { silentLogger } from '../src/log.js';
import { World } from './support/world.js';

/** Stands in for the WebSocket to stately.ai: this machine has no internet, and tests never go online. */
class FakeSky extends EventEmitter {
  readyState: number = WebSocket.CONNECTING;
  readonly sent: string[] = [];
  url = '';
  closed = false;
  send(message: string): void {
    this.sent.push(message);
  }
  close(): void {
    this.closed = true;
    this.readyState = WebSocket.CLOSED;
  }
  open(): void {
    this.readyState = WebSocket.OPEN;
    this.emit('open');
  }
}

/** @statelyai/inspect hands events over on a timer. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('Stately Inspector stream (--stately)', () => {
  it('sends every actor, event and snapshot, with keys, SDPs and addresses left out', async () => {
    const sky = new FakeSky();
    const stately = startStatelyInspector(silentLogger, (url) => {
      sky.url = url;
      return sky as unknown as SkySocket;
    });
    const { world, a, b } = World.connectedPair((event) => stately.inspect(event));
    await settle();
    expect(sky.sent).toEqual([]); // held until the socket opens
    sky.open();
    expect(sky.url).toMatch(/^wss:\/\/.+\/party\/inspect-[0-9a-f-]{36}$/);
    expect(stately.url).toBe(`https://stately.ai/registry/inspect/${sky.url.split('inspect-')[1]}`);

    const messages = sky.sent.map((m) => JSON.parse(m) as { type: string });
    expect(new Set(messages.map((m) => m.type))).toEqual(new Set(['@xstate.actor', '@xstate.event', '@xstate.snapshot']));
    const all = sky.sent.join('\n');
    const pem = world.actor(a).getSnapshot().context.signaling.identity.exportPem();
    const keyBody = pem.split('\n')[1]!;
    expect(all).not.toContain(keyBody);
    expect(all).not.toContain('offer from'); // the fake transports' SDPs
    expect(all).not.toContain('candidate:');
    expect(all).toContain(`"remoteId":"${b}"`); // while ids and states do go through
    expect(all).toContain('"value":"connected"');

    stately.stop();
    expect(sky.closed).toBe(true);
  });
});
