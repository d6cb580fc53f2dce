/**
 * Proves the lab itself: addressing, NAT behaviour, firewalling, the servers, the impairment and the
 * teardown. Root only: without it requireLab() fails the file, on purpose (never a silent skip).
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatAgent } from './agentClient.js';
import { ADDR, NatLab, NS, requireLab, type SignalingInfo } from './lab.js';

const labNamespaces = (): string[] => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).match(/^p2pl-\S+/gm) ?? [];

const gone = (pid: number | undefined): boolean => {
  try {
    process.kill(pid!, 0);
    return false;
  } catch {
    return true;
  }
};

describe('NAT lab: cone router A, symmetric router B', () => {
  let lab: NatLab;
  let signaling: SignalingInfo;

  beforeAll(async () => {
    requireLab();
    const t0 = performance.now();
    lab = await NatLab.start({ natA: 'cone', natB: 'symmetric' });
    console.info(`NatLab.start: ${Math.round(performance.now() - t0)} ms`);
    signaling = await lab.startSignaling();
    await lab.startTurn();
    await lab.udpEcho(NS.inet, ADDR.server);
    await lab.udpEcho(NS.hostB, ADDR.hostB);
  });

  afterAll(() => lab?.stop());

  it('host A reaches the internet, seen as router A’s public address', async () => {
    const probe = await lab.udpProbe(NS.hostA, ADDR.server);
    expect(probe.received).toBe(probe.sent);
    expect(new Set(probe.seenAs.map((a) => a.split(':')[0]))).toEqual(new Set([ADDR.routerAWan]));
  });

  it('has no third LAN unless asked', () => {
    expect(labNamespaces()).not.toContain(NS.routerC);
    expect(labNamespaces()).not.toContain(NS.hostC);
  });

  it('host A cannot reach host B’s private address', async () => {
    const probe = await lab.udpProbe(NS.hostA, ADDR.hostB, 7, { timeoutMs: 500 });
    expect(probe.received).toBe(0);
  });

  it('the public host reaches the signaling server’s /health', async () => {
    const fetchHealth = `fetch(process.argv[1]).then(async (r) => console.log(r.status, await r.text()))`;
    const out = await lab.exec(NS.pub, process.execPath, ['-e', fetchHealth, `${signaling.url}/health`]);
    expect(out.stdout).toMatch(/^200 /);
  });

  it('coturn answers STUN from host A with the NAT-mapped address', async () => {
    // stunclient then waits forever for an RFC 5780 answer from coturn's other address, which the
    // NAT's filtering drops: take the first answer and kill it.
    const stun = lab.spawn(NS.hostA, 'turnutils_stunclient', [ADDR.server]);
    const [, mapped] = await stun.line(/UDP reflexive addr: (\S+)/);
    await lab.kill(stun);
    expect(mapped).toMatch(/^203\.0\.113\.2:\d+$/);
  });

  it('the cone NAT maps one local port to one public port for every destination; the symmetric one does not', async () => {
    const cone = await lab.natDiscovery(NS.hostA, ADDR.hostA, 40_000);
    expect(cone.verdict).toBe('Endpoint Independent Mapping');
    expect(new Set(cone.mapped).size).toBe(1);

    const symmetric = await lab.natDiscovery(NS.hostB, ADDR.hostB, 40_000);
    expect(symmetric.verdict).toBe('Address and Port Dependent Mapping');
    expect(symmetric.mapped.every((a) => a.startsWith(`${ADDR.routerBWan}:`))).toBe(true);
    expect(new Set(symmetric.mapped).size).toBe(symmetric.mapped.length);
  });

  it('stop() kills every process it started, agents included, and removes every namespace', async () => {
    const agent = await NatAgent.spawn(lab, NS.hostA);
    await agent.start({ signalingUrl: signaling.url });
    const sleeper = lab.spawn(NS.pub, 'sleep', ['600']);
    const t0 = performance.now();
    await lab.stop();
    console.info(`NatLab.stop: ${Math.round(performance.now() - t0)} ms`);
    expect(gone(agent.process.pid) && gone(sleeper.pid) && gone(signaling.process.pid)).toBe(true);
    expect(labNamespaces()).toEqual([]);
  });
});

describe('NAT lab: 5% loss and 100 ms delay on router A', () => {
  let lab: NatLab;

  beforeAll(async () => {
    requireLab();
    lab = await NatLab.start({ natA: 'cone', natB: 'cone', impair: { router: 'a', lossPercent: 5, delayMs: 100 } });
    await lab.udpEcho(NS.inet, ADDR.server);
  });

  afterAll(() => lab?.stop());

  it('adds ~100 ms to host A’s round trips and drops ~5% of its packets; host B is untouched', async () => {
    const options = { count: 200, intervalMs: 5, timeoutMs: 1_000 };
    const [a, b] = await Promise.all([lab.udpProbe(NS.hostA, ADDR.server, 7, options), lab.udpProbe(NS.hostB, ADDR.server, 7, options)]);
    console.info(`impaired A: median ${a.medianRttMs?.toFixed(1)} ms, ${a.sent - a.received}/200 lost; B: median ${b.medianRttMs?.toFixed(1)} ms, ${b.sent - b.received} lost`);
    expect(a.medianRttMs! - b.medianRttMs!).toBeGreaterThan(90);
    expect(a.medianRttMs! - b.medianRttMs!).toBeLessThan(140);
    expect(a.sent - a.received).toBeGreaterThanOrEqual(1); // P(no loss at 5%) = 0.95^200 ≈ 4e-5
    expect(a.sent - a.received).toBeLessThanOrEqual(25);
    expect(b.received).toBeGreaterThanOrEqual(198);
  });

  it('leaves nothing behind', async () => {
    await lab.stop();
    expect(labNamespaces()).toEqual([]);
  });
});

describe('NAT lab: a third LAN, behind cone router C, on LAN A’s prefix', () => {
  let lab: NatLab;

  beforeAll(async () => {
    requireLab();
    lab = await NatLab.start({ natA: 'cone', natB: 'cone', lanC: 'cone' });
    await lab.udpEcho(NS.inet, ADDR.server);
    await lab.udpEcho(NS.hostA, ADDR.hostA);
    await lab.udpEcho(NS.hostC, ADDR.hostC);
  });

  afterAll(() => lab?.stop());

  it('host C reaches the internet, seen as router C’s public address', async () => {
    const probe = await lab.udpProbe(NS.hostC, ADDR.server);
    expect(probe.received).toBe(probe.sent);
    expect(new Set(probe.seenAs.map((a) => a.split(':')[0]))).toEqual(new Set([ADDR.routerCWan]));
  });

  it('hosts A and C cannot reach each other’s private address, though it lies in their own prefix', async () => {
    const quiet = { timeoutMs: 500 };
    const [fromC, fromA] = await Promise.all([lab.udpProbe(NS.hostC, ADDR.hostA, 7, quiet), lab.udpProbe(NS.hostA, ADDR.hostC, 7, quiet)]);
    expect(fromC.received).toBe(0);
    expect(fromA.received).toBe(0);
  });

  it('leaves nothing behind', async () => {
    await lab.stop();
    expect(labNamespaces()).toEqual([]);
  });
});
