/** The DHT machine with a scripted overlay: its lifecycle, and what it passes between the overlay and the supervisor. */
import { describe, expect, it } from 'vitest';
import { createActor, createMachine, fromCallback, sendTo, setup, type AnyActorRef } from 'xstate';
import { dhtMachine, type DhtMachineEvent } from '../src/machines/dht.machine.js';
import type { Overlay, OverlayCommand, OverlayEvent } from '../src/services/overlay.js';
import { measureCoverage } from './models/coverage.js';

/** A supervisor stand-in that spawns the DHT machine with a scripted overlay, recording what reaches each. */
function harness() {
  const toOverlay: OverlayCommand[] = [];
  const toSupervisor: DhtMachineEvent[] = [];
  let overlaySend: ((event: OverlayEvent) => void) | undefined;
  const overlay = fromCallback<OverlayCommand, { overlay: Overlay }, OverlayEvent>(({ sendBack, receive }) => {
    overlaySend = sendBack;
    receive((command) => toOverlay.push(command));
  });
  const machine = dhtMachine.provide({ actors: { overlay } });
  const parent = setup({ actors: { dht: machine } }).createMachine({
    invoke: { id: 'dht', src: 'dht', input: { overlay: {} as Overlay, minContacts: 2 } },
    on: {
      '*': { actions: ({ event }) => toSupervisor.push(event as DhtMachineEvent) },
      FORWARD: { actions: sendTo('dht', ({ event }) => (event as unknown as { command: OverlayCommand }).command) },
    },
  });
  const actor = createActor(parent).start();
  const dht = () => actor.getSnapshot().children.dht as AnyActorRef;
  return {
    toOverlay,
    toSupervisor,
    /** The state as a dotted path: `ready.idle`. */
    state: () => {
      const value = dht().getSnapshot().value as string | Record<string, string>;
      return typeof value === 'string' ? value : Object.entries(value).map(([k, v]) => `${k}.${v}`)[0];
    },
    fromOverlay: (event: OverlayEvent) => overlaySend!(event),
    command: (command: OverlayCommand) => actor.send({ type: 'FORWARD', command } as never),
  };
}

describe('the DHT machine', () => {
  it('is joining until the overlay joined, then ready (refreshing while a round runs), and degraded while it holds too few contacts', () => {
    const h = harness();
    expect(h.state()).toBe('joining');
    h.fromOverlay({ type: 'OVERLAY.LINKS', contacts: 1, links: 1 });
    expect(h.state()).toBe('joining');
    h.fromOverlay({ type: 'OVERLAY.JOINED' });
    expect(h.state()).toBe('ready.idle');
    h.fromOverlay({ type: 'OVERLAY.LINKS', contacts: 3, links: 5 });
    expect(h.state()).toBe('ready.idle');
    h.fromOverlay({ type: 'OVERLAY.REFRESHING' });
    expect(h.state()).toBe('ready.refreshing');
    h.fromOverlay({ type: 'OVERLAY.REFRESHED' });
    expect(h.state()).toBe('ready.idle');
    h.fromOverlay({ type: 'OVERLAY.REFRESHING' });
    h.fromOverlay({ type: 'OVERLAY.LINKS', contacts: 1, links: 2 });
    expect(h.state()).toBe('degraded');
    h.fromOverlay({ type: 'OVERLAY.REFRESHED' }); // the round that was running when it degraded
    h.fromOverlay({ type: 'OVERLAY.LINKS', contacts: 1, links: 4 });
    expect(h.state()).toBe('degraded');
    h.fromOverlay({ type: 'OVERLAY.LINKS', contacts: 2, links: 4 });
    expect(h.state()).toBe('ready.idle');
  });

  it("passes the overlay's requests and signals up, and the supervisor's commands down", () => {
    const h = harness();
    const up: OverlayEvent[] = [
      { type: 'OVERLAY.CONNECT', peerId: 'a', via: ['r'] },
      { type: 'OVERLAY.BOOTSTRAP' },
      { type: 'SIGNAL.IN', signal: { from: 'a', session: 's', seq: 0, kind: 'offer', data: { type: 'offer', sdp: 'x' }, sealed: true }, via: ['r'] },
      { type: 'OVERLAY.SIGNAL_FAILED', to: 'a', session: 's' },
    ];
    for (const event of up) h.fromOverlay(event);
    expect(h.toSupervisor.filter((e) => !e.type.startsWith('xstate.'))).toEqual(up);
    const down: OverlayCommand[] = [
      { type: 'JOIN', peers: ['b'] },
      { type: 'SEND', to: 'a', session: 's', data: { type: 'restart' }, via: [] },
      { type: 'CONNECT_FAILED', peerId: 'a' },
    ];
    for (const command of down) h.command(command);
    expect(h.toOverlay).toEqual(down);
  });

  it('reaches every state and transition', async () => {
    const { missingStates, missingTransitions } = await measureCoverage(dhtMachine, async (inspect) => {
      const toOverlay = fromCallback<OverlayCommand, { overlay: Overlay }, OverlayEvent>(({ sendBack, receive }) => {
        receive(() => {});
        for (const event of [
          { type: 'OVERLAY.LINKS', contacts: 1, links: 1 },
          { type: 'OVERLAY.JOINED' },
          { type: 'OVERLAY.REFRESHING' },
          { type: 'OVERLAY.REFRESHED' },
          { type: 'OVERLAY.LINKS', contacts: 0, links: 0 },
          { type: 'OVERLAY.LINKS', contacts: 5, links: 5 },
          { type: 'OVERLAY.CONNECT', peerId: 'a', via: [] },
          { type: 'OVERLAY.BOOTSTRAP' },
          { type: 'SIGNAL.IN', signal: { from: 'a', session: 's', seq: 0, kind: 'restart', data: { type: 'restart' } }, via: [] },
          { type: 'OVERLAY.SIGNAL_FAILED', to: 'a', session: 's' },
        ] as OverlayEvent[]) sendBack(event);
      });
      const parent = createMachine({
        invoke: { id: 'dht', src: dhtMachine.provide({ actors: { overlay: toOverlay } }), input: { overlay: {} as Overlay, minContacts: 2 } },
      });
      const actor = createActor(parent, { inspect }).start();
      const dht = actor.getSnapshot().children.dht as AnyActorRef;
      for (const command of [{ type: 'JOIN', peers: [] }, { type: 'SEND', to: 'a', session: 's', data: { type: 'restart' }, via: [] }, { type: 'CONNECT_FAILED', peerId: 'a' }]) dht.send(command);
      actor.stop();
    });
    expect(missingStates).toEqual([]);
    expect(missingTransitions).toEqual([]);
  });
});
