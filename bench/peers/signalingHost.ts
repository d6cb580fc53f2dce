/**
 * One signaling server in its own process, for bench/signaling.ts: ours (`createSignalingServer`,
 * optionally clustered on Redis), the PeerJS server (`peer`), or a Mosquitto broker started from here
 * (its process measured instead of this one), on 127.0.0.1 at a free port. It
 * reports its memory after full collections and the CPU time it has used, so that server cost is
 * measured apart from the clients'.
 */
import type { AddressInfo } from 'node:net';
import { PeerServer } from 'peer';
import { createSignalingServer } from '../../src/index.js';
import { boundChild, collect, serve, sleep } from '../child.js';
import { cpuMs, rssOf } from '../procStats.js';
import { startRelay } from '../relay.js';
import { Mosquitto } from '../../test/support/mosquitto.js';
import { SIGNALING_CROWD } from '../serverLimits.js';
import type { HostConfig, HostReady, HostMemory, HostRequest } from './signalingProtocol.js';

const config = JSON.parse(process.argv[2] ?? '{}') as HostConfig;
boundChild(`signaling host ${config.serverId ?? config.dialect}`, config.deadlineMs);

/** The broker, when this host is one: its process is measured instead of this one. */
let broker: Mosquitto | undefined;

async function start(): Promise<number> {
  if (config.dialect === 'bare') return Number(new URL((await startRelay()).url).port);
  if (config.dialect === 'mqtt') {
    broker = await Mosquitto.start();
    return broker.wsPort;
  }
  if (config.dialect === 'peerjs') {
    // No limit of its own on clients: its default (5000) would refuse the 10 000-client runs.
    return new Promise((resolve) => {
      PeerServer({ port: 0, host: '127.0.0.1', path: '/', concurrent_limit: 1_000_000 }, (server) => resolve((server.address() as AddressInfo).port));
    });
  }
  const server = await createSignalingServer({
    host: '127.0.0.1',
    port: 0,
    ...SIGNALING_CROWD,
    ...(config.redis ? { redis: config.redis } : {}),
    ...(config.serverId ? { serverId: config.serverId } : {}),
  });
  return server.port;
}

const SETTLE_ROUNDS = 20;

async function measure(): Promise<HostMemory> {
  if (broker) return { rssBytes: rssOf(broker.pid), heapUsedBytes: Number.NaN };
  await collect(300);
  return { rssBytes: process.memoryUsage.rss(), heapUsedBytes: process.memoryUsage().heapUsed };
}

/**
 * Memory once it has stopped shrinking: a fresh process gives back tens of megabytes over its first
 * seconds (150 → 97 MB here, with the JS heap unchanged), which would swamp what clients add.
 */
async function settle(): Promise<HostMemory> {
  let last = await measure();
  for (let i = 0; i < SETTLE_ROUNDS; i++) {
    await sleep(1000);
    const now = await measure();
    if (Math.abs(now.rssBytes - last.rssBytes) < 1024 * 1024) return now;
    last = now;
  }
  return last;
}

serve<HostRequest>(async (req) => {
  switch (req.cmd) {
    case 'measure':
      return measure();
    case 'settle':
      return settle();
    case 'cpu': {
      if (broker) return cpuMs(broker.pid).total;
      const cpu = process.cpuUsage();
      return (cpu.user + cpu.system) / 1000;
    }
    default:
      throw new Error(`unknown command ${req.cmd}`);
  }
});

process.send!({ ready: true, port: await start() } satisfies { ready: true } & HostReady);
