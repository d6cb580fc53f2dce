/**
 * A connection that stalls is repaired by an ICE restart rather than dropped: a peer in another
 * process is frozen (SIGSTOP) past half the heartbeat timeout and thawed before the whole of it.
 * The restart's offer waits at the frozen peer's signaling socket and is answered once it thaws.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger, PeerEvent } from '../src/index.js';
import { Harness, eventually, next } from './helpers.js';
import { peerProcess } from './support/peerProcess.js';

/** A logger that keeps the messages logged at info level and above. */
function recordingLogger(lines: string[]): Logger {
  const keep = (_: object, msg?: string): void => void lines.push(msg ?? '');
  const logger: Logger = { debug: () => {}, info: keep, warn: keep, error: keep, child: () => logger };
  return logger;
}

const text = (data: string | Uint8Array): string => (typeof data === 'string' ? data : Buffer.from(data).toString());

describe('a connection that stalls', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('is reported recovering, restarts ICE, and carries on with every message, in order', async () => {
    const server = await harness.server();
    const logged: string[] = [];
    const node = await harness.started(server.url, { logger: recordingLogger(logged) });
    const { child, id } = await peerProcess(harness, server.url);
    await node.connectToNode(id);
    const events: PeerEvent[] = [];
    node.peerEvents$.subscribe((event) => events.push(event));
    const echoes: string[] = [];
    node.data$.subscribe(({ data }) => echoes.push(text(data)));

    const recovering = next(node.peerEvents$, (e: PeerEvent) => e.type === 'recovering', 10_000);
    const stoppedAt = performance.now();
    child.kill('SIGSTOP');
    const sent = Array.from({ length: 20 }, (_, i) => `while frozen ${i}`);
    for (const message of sent) await node.send(id, message);
    const stall = await recovering;
    const stalledAfter = performance.now() - stoppedAt;
    expect(node.peers().find((p) => p.id === id)?.state).toBe('recovering');
    const connected = next(node.peerEvents$, (e: PeerEvent) => e.type === 'connected', 10_000);
    child.kill('SIGCONT');
    const thawedAt = performance.now();
    await connected;
    const recoveredAfter = performance.now() - thawedAt;
    await eventually(() => expect(logged).toContain('ICE restarted'), 10_000, 20);
    const restartedAfter = performance.now() - thawedAt;
    await node.send(id, 'after the restart');
    await next(node.data$, ({ data }) => text(data) === 'after the restart', 10_000);

    const ms = (value: number) => `${Math.round(value)} ms`;
    console.log(`recovering ${ms(stalledAfter)} after SIGSTOP; after SIGCONT: connected in ${ms(recoveredAfter)}, ICE restarted in ${ms(restartedAfter)}`);
    expect(stall).toMatchObject({ type: 'recovering', id, detail: expect.stringMatching(/^nothing heard for \d+ ms; ICE \w+$/) });
    expect(events.map((e) => e.type)).toEqual(['recovering', 'connected']);
    expect(echoes).toEqual([...sent, 'after the restart']);
    expect(node.peers().find((p) => p.id === id)?.state).toBe('connected');
  });
});
