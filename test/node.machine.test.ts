import { describe, expect, it } from 'vitest';
import { PEER_TIMEOUTS, candidate, signal } from './support/fakes.js';
import { World } from './support/world.js';

function pair() {
  const world = new World();
  const a = world.node();
  const b = world.node();
  world.flush();
  return { world, a, b };
}

describe('node supervisor', () => {
  it('goes online once the signaling actor registers', () => {
    const world = new World();
    const a = world.node();
    expect(world.actor(a).getSnapshot().value).toEqual({ running: 'connecting' });
    world.flush();
    expect(world.actor(a).getSnapshot().value).toEqual({ running: 'online' });
  });

  it('connects two nodes: one initiator actor, one responder actor, both connected', () => {
    const { world, a, b } = pair();
    world.actor(a).send({ type: 'CONNECT', peerId: b });
    world.flush();
    expect(world.peers(a)).toEqual({ [b]: 'connected' });
    expect(world.peers(b)).toEqual({ [a]: 'connected' });
    expect(world.peerContext(a, b)?.role).toBe('initiator');
    expect(world.peerContext(b, a)?.role).toBe('responder');
    expect(world.peerContext(a, b)?.session).toBe(world.peerContext(b, a)?.session);
    expect(world.actor(a).getSnapshot().children[`peer.${b}`]).toBeDefined();
  });

  it('never spawns a duplicate: a second CONNECT joins the attempt under way', () => {
    const { world, a, b } = pair();
    world.actor(a).send({ type: 'CONNECT', peerId: b });
    world.actor(a).send({ type: 'CONNECT', peerId: b });
    world.flush();
    world.actor(a).send({ type: 'CONNECT', peerId: b });
    world.flush();
    expect(world.transportsOf(a, b)).toHaveLength(1);
    expect(world.peers(a)).toEqual({ [b]: 'connected' });
  });

  it('resolves glare deterministically: exactly one connection survives, offered by the smaller id', () => {
    for (let run = 0; run < 20; run++) {
      const { world, a, b } = pair();
      world.actor(a).send({ type: 'CONNECT', peerId: b });
      world.actor(b).send({ type: 'CONNECT', peerId: a });
      world.flush();
      expect(world.peers(a)).toEqual({ [b]: 'connected' });
      expect(world.peers(b)).toEqual({ [a]: 'connected' });
      const [small, large] = a < b ? [a, b] : [b, a];
      expect(world.peerContext(small, large)?.role).toBe('initiator');
      expect(world.peerContext(large, small)?.role).toBe('responder');
      expect(world.peerContext(a, b)?.session).toBe(world.peerContext(b, a)?.session);
      const live = world.transports.filter((t) => !t.stopped);
      expect(live).toHaveLength(2);
      expect(world.transportsOf(large, small).filter((t) => t.stopped)).toHaveLength(1);
    }
  });

  it('routes each signal to its own peer actor and drops signals nobody expects', () => {
    const world = new World();
    const [a, b, c] = [world.node(), world.node(), world.node()];
    world.flush();
    world.actor(a).send({ type: 'CONNECT', peerId: b });
    world.actor(a).send({ type: 'CONNECT', peerId: c });
    world.flush();
    expect(world.peers(a)).toEqual({ [b]: 'connected', [c]: 'connected' });

    const session = world.peerContext(a, c)!.session;
    const before = world.transportsOf(a).length;
    world.actor(a).send({ type: 'SIGNAL.IN', signal: signal(c, session, candidate()) });
    const stranger = 'f'.repeat(64);
    world.actor(a).send({ type: 'SIGNAL.IN', signal: signal(stranger, 'session-x1', candidate()) });
    world.flush();
    expect(Object.keys(world.peers(a)).sort()).toEqual([b, c].sort());
    expect(world.transportsOf(a)).toHaveLength(before);
  });

  it('keeps connected peers through a signaling outage and re-registers afterwards', () => {
    const { world, a, b } = pair();
    world.actor(a).send({ type: 'CONNECT', peerId: b });
    world.flush();
    const transport = world.transportsOf(a, b)[0]!;

    world.unreachable.add(a);
    world.socketOf(a)!.sendBack({ type: 'SOCKET.DISCONNECTED', reason: 'transport close' });
    world.flush();
    expect(world.actor(a).getSnapshot().value).toEqual({ running: 'offline' });
    world.clock.increment(100);
    world.clock.increment(1000); // connect attempt times out while the server is unreachable
    expect(world.actor(a).getSnapshot().value).toEqual({ running: 'offline' });
    expect(world.peers(a)).toEqual({ [b]: 'connected' });

    world.unreachable.delete(a);
    world.clock.increment(200);
    world.flush();
    expect(world.actor(a).getSnapshot().value).toEqual({ running: 'online' });
    expect(world.peers(a)).toEqual({ [b]: 'connected' });
    expect(transport.stopped).toBe(false);
  });

  it('negotiates through an outage: signals wait in the queue and flow after re-registration', () => {
    const { world, a, b } = pair();
    world.unreachable.add(a);
    world.socketOf(a)!.sendBack({ type: 'SOCKET.DISCONNECTED', reason: 'ping timeout' });
    world.flush();
    world.actor(a).send({ type: 'CONNECT', peerId: b });
    world.flush();
    expect(world.peers(a)).toEqual({ [b]: 'offering' });
    world.unreachable.delete(a);
    world.clock.increment(100);
    world.flush();
    expect(world.peers(a)).toEqual({ [b]: 'connected' });
  });

  it('closes from either side and forgets finished actors, so a later connect starts fresh', () => {
    const { world, a, b } = pair();
    world.actor(a).send({ type: 'CONNECT', peerId: b });
    world.flush();
    world.actor(b).send({ type: 'DISCONNECT', peerId: a });
    world.flush();
    expect(world.peers(a)).toEqual({});
    expect(world.peers(b)).toEqual({});
    expect(world.actor(a).getSnapshot().children[`peer.${b}`]).toBeUndefined();

    world.actor(a).send({ type: 'CONNECT', peerId: b });
    world.flush();
    expect(world.peers(a)).toEqual({ [b]: 'connected' });
    world.actor(a).send({ type: 'DISCONNECT', peerId: b });
    world.flush();
    expect(world.peers(a)).toEqual({});
    expect(world.peers(b)).toEqual({});
  });

  it('refuses offers beyond maxPeers with a rejection the other side sees', () => {
    const world = new World();
    const full = world.node({ maxPeers: 1 });
    const [b, c] = [world.node(), world.node()];
    world.flush();
    world.actor(b).send({ type: 'CONNECT', peerId: full });
    world.flush();
    world.actor(c).send({ type: 'CONNECT', peerId: full });
    world.flush();
    expect(world.peers(full)).toEqual({ [b]: 'connected' });
    expect(world.peers(c)).toEqual({});
    world.actor(full).send({ type: 'CONNECT', peerId: c });
    world.flush();
    expect(world.peers(full)).toEqual({ [b]: 'connected' });
  });

  it('refuses offers with ERR_BUSY while maxNegotiating peers negotiate; connected peers do not count', () => {
    const world = new World();
    const busy = world.node({ maxNegotiating: 1 });
    const [b, silent, c] = [world.node(), world.node(), world.node()];
    world.flush();
    world.actor(busy).send({ type: 'CONNECT', peerId: b });
    world.flush();
    world.sockets.set(silent, [{ sendBack: () => {}, stopped: false }]); // signals to it go nowhere
    world.actor(busy).send({ type: 'CONNECT', peerId: silent });
    world.flush();
    expect(world.peers(busy)).toEqual({ [b]: 'connected', [silent]: 'offering' });

    world.actor(c).send({ type: 'CONNECT', peerId: busy });
    const refused = world.actor(c).getSnapshot().context.peers[busy]!;
    world.flush();
    expect(refused.getSnapshot().output).toMatchObject({ reason: 'busy' });
    expect(world.peers(busy)).toEqual({ [b]: 'connected', [silent]: 'offering' });

    world.clock.increment(PEER_TIMEOUTS.offer);
    world.flush();
    world.actor(c).send({ type: 'CONNECT', peerId: busy });
    world.flush();
    expect(world.peers(busy)).toEqual({ [b]: 'connected', [c]: 'connected' });
  });

  it('closes an attempt towards an unknown node as soon as the server says so', () => {
    const { world, a } = pair();
    world.actor(a).send({ type: 'CONNECT', peerId: 'e'.repeat(64) });
    world.flush();
    expect(world.peers(a)).toEqual({});
  });

  it('times out an attempt towards a node that never answers', () => {
    const { world, a, b } = pair();
    world.unreachable.add(b);
    world.socketOf(b)!.stopped = true; // b vanished without the server noticing: signals go nowhere
    world.sockets.set(b, [{ sendBack: () => {}, stopped: false }]);
    world.actor(a).send({ type: 'CONNECT', peerId: b });
    world.flush();
    expect(world.peers(a)).toEqual({ [b]: 'offering' });
    world.clock.increment(PEER_TIMEOUTS.offer);
    world.flush();
    expect(world.peers(a)).toEqual({});
  });

  it('stops every peer and the signaling actor on STOP', () => {
    const { world, a, b } = pair();
    world.actor(a).send({ type: 'CONNECT', peerId: b });
    world.flush();
    world.actor(a).send({ type: 'STOP' });
    world.flush();
    expect(world.actor(a).getSnapshot().status).toBe('done');
    expect(world.transportsOf(a).every((t) => t.stopped)).toBe(true);
    expect(world.sockets.get(a)!.every((s) => s.stopped)).toBe(true);
    expect(world.peers(b)).toEqual({});
  });

  it('reports a signaling server it never reached', () => {
    const world = new World();
    const id = world.node();
    world.unreachable.add(id);
    for (let i = 0; i < 10; i++) {
      world.flush();
      world.clock.increment(1000);
    }
    expect(world.actor(id).getSnapshot().value).toEqual({ running: 'signalingFailed' });
    expect(world.actor(id).getSnapshot().context.signalingError?.code).toBe('ERR_SIGNALING_UNREACHABLE');
  });
});
