/**
 * A few model paths once more, on real wrtc and a real signaling server: the states a node reports
 * for its peer actor must be the model's states along the same path, and the output its end.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { filter, firstValueFrom, map, takeWhile, timeout, toArray } from 'rxjs';
import { loopbackOnly, type CandidateFilter, type P2PNode, type PeerEvent } from '../src/index.js';
import { Harness, next } from './helpers.js';
import { alongPath, peerModelPaths, type ModelEvent } from './models/peerConnection.model.js';
import { PEER_TIMEOUTS } from './support/fakes.js';

const { paths: PATHS } = peerModelPaths();

const spawnInitiator = (local: P2PNode, remote: P2PNode): ModelEvent => ({
  type: 'SPAWN.INITIATOR',
  localId: local.nodeId < remote.nodeId ? 'smaller' : 'larger',
});
const SPAWN_RESPONDER: ModelEvent = { type: 'SPAWN.RESPONDER' };
const CHANNEL_VERIFIED: ModelEvent[] = [{ type: 'TRANSPORT.OPEN' }, { type: 'TRANSPORT.VERIFIED' }];
const INITIATOR_CONNECTS: ModelEvent[] = [{ type: 'REMOTE.ANSWER' }, ...CHANNEL_VERIFIED];
const RESPONDER_CONNECTS: ModelEvent[] = [{ type: 'LOCAL.ANSWER' }, ...CHANNEL_VERIFIED];

/**
 * The model's states along `events`, as a node reports them: without `idle`, which the model uses
 * for "not spawned yet" and which the real actor leaves in the same step that enters it.
 */
function expected(events: ModelEvent[]) {
  const { states, end } = alongPath(PATHS, events);
  return { states: states.filter((state) => state !== 'idle'), end };
}

/** The states `node` reports for its actor towards `peer`, up to and including `last`. */
function reportedStates(node: P2PNode, peer: P2PNode, last: string): Promise<string[]> {
  return firstValueFrom(
    node.transitions$.pipe(
      filter((t) => t.actor === `peer.${peer.nodeId}`),
      map((t) => t.to),
      takeWhile((state) => state !== last, true),
      toArray(),
      timeout(10_000),
    ),
  );
}

/** How `node`'s connection to `peer` ended: the same fields as the peer actor's output. */
async function ending(node: P2PNode, peer: P2PNode): Promise<{ reason: string; detail?: string }> {
  const closed = await next(node.peerEvents$, (e) => e.type === 'closed' && e.id === peer.nodeId);
  const { reason, detail } = closed as Extract<PeerEvent, { type: 'closed' }>;
  return { reason, detail };
}

describe('peer connection model paths on real wrtc and a real signaling server', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  type NodeOptions = Parameters<Harness['started']>[1];

  async function twoNodes(aOptions: NodeOptions = {}, bOptions: NodeOptions = {}) {
    const server = await h.server();
    return { a: await h.started(server.url, aOptions), b: await h.started(server.url, bOptions) };
  }

  it('happy path: initiator and responder go through the model states to connected', async () => {
    const { a, b } = await twoNodes();
    const initiator = expected([spawnInitiator(a, b), ...INITIATOR_CONNECTS]);
    const responder = expected([SPAWN_RESPONDER, ...RESPONDER_CONNECTS]);
    const atA = reportedStates(a, b, 'connected');
    const atB = reportedStates(b, a, 'connected');
    await a.connectToNode(b.nodeId);
    expect(await atA).toEqual(initiator.states);
    expect(await atB).toEqual(responder.states);
  });

  it('remote close: the responder ends its stream, the initiator acknowledges and both end as the model says', async () => {
    const { a, b } = await twoNodes();
    const initiator = expected([spawnInitiator(a, b), ...INITIATOR_CONNECTS, { type: 'TRANSPORT.REMOTE_END' }, { type: 'TRANSPORT.CLOSED' }]);
    const responder = expected([
      SPAWN_RESPONDER,
      ...RESPONDER_CONNECTS,
      { type: 'USER.CLOSE' },
      { type: 'TRANSPORT.ENDED', acknowledged: true, unsent: 0 },
    ]);
    const atA = reportedStates(a, b, 'closed');
    const atB = reportedStates(b, a, 'closed');
    const endA = ending(a, b);
    const endB = ending(b, a);
    // connectToNode resolves once a is connected; b may still be verifying, and closing then is another path.
    const bConnected = next(b.transitions$, (t) => t.actor === `peer.${a.nodeId}` && t.to === 'connected');
    await a.connectToNode(b.nodeId);
    await bConnected;
    await b.disconnect(a.nodeId);
    expect(await atA).toEqual(initiator.states);
    expect(await atB).toEqual(responder.states);
    expect(await endA).toEqual(initiator.end);
    expect(await endB).toEqual(responder.end);
  });

  it('ICE timeout: with no pair to try, the initiator waits timeouts.ice, names the candidates and tells the responder', async () => {
    // a signals and tries only UDP candidates, b only TCP ones: both sides signal host candidates, but
    // each refuses all of the other's, so ICE has no pair to try and only the timer ends it.
    const only = (protocol: string): CandidateFilter => (c) => loopbackOnly(c) && c.protocol === protocol;
    const { a, b } = await twoNodes({ candidateFilter: only('udp'), timeouts: { ice: PEER_TIMEOUTS.ice } }, { candidateFilter: only('tcp') });
    const initiator = expected([spawnInitiator(a, b), { type: 'REMOTE.ANSWER' }, { type: 'TIMEOUT' }]);
    const responder = expected([SPAWN_RESPONDER, { type: 'LOCAL.ANSWER' }, { type: 'REMOTE.REJECT', code: 'ice-failed' }]);
    const atA = reportedStates(a, b, 'closed');
    const atB = reportedStates(b, a, 'closed');
    const endA = ending(a, b);
    const endB = ending(b, a);
    const started = Date.now();
    await expect(a.connectToNode(b.nodeId)).rejects.toMatchObject({ code: 'ERR_ICE_FAILED' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(PEER_TIMEOUTS.ice);
    expect(await atA).toEqual(initiator.states);
    expect(await atB).toEqual(responder.states);
    // The timer's own diagnosis, not a wrtc ICE failure that happens to carry the same reason: host
    // candidates only on both sides, so the advice is the missing STUN/TURN server.
    expect(initiator.end).toEqual({ reason: 'ice-failed', ice: 'timeout' });
    expect(await endA).toEqual({
      reason: 'ice-failed',
      detail: expect.stringMatching(
        /^no candidate pair connected within 2 s; we signaled host [1-9]\d*, srflx 0, relay 0; the peer signaled host [1-9]\d*, srflx 0, relay 0\. We have no srflx candidate: no STUN\/TURN server/,
      ),
    });
    // The responder hears the initiator give up on ICE and reports the same failure, from its own candidates.
    expect(responder.end).toEqual({ reason: 'ice-failed', ice: { message: 'the peer found no working candidate pair' } });
    expect(await endB).toEqual({
      reason: 'ice-failed',
      detail: expect.stringMatching(/^the peer found no working candidate pair; we signaled host [1-9]\d*, srflx 0, relay 0; /),
    });
  });
});
