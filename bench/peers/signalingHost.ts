/**
 * One signaling server in its own process, for bench/signaling.ts: ours (`createSignalingServer`,
 * optionally clustered on Redis) or the PeerJS server (`peer`), on 127.0.0.1 at a free port. It
 * reports its memory after full collections and the CPU time it has used, so that server cost is
 * measured apart from the clients'.
 */
import type { AddressInfo } from 'node:net';
import { PeerServer } from 'peer';
import { createSignalingServer } from '../../src/index.js';
import { boundChild, collect, serve } from '../child.js';
import { startRelay } from '../relay.js';
import { SIGNALING_CROWD } from '../serverLimits.js';
import type { HostConfig, HostReady, HostMemory, HostRequest } from './signalingProtocol.js';

const config = JSON.parse(process.argv[2] ?? '{}') as HostConfig;
boundChild(`signaling host ${config.serverId ?? config.dialect}`, config.deadlineMs);

async function start(): Promise<number> {
  if (config.dialect === 'bare') return Number(new URL((await startRelay()).url).port);
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

async function measure(): Promise<HostMemory> {
  await collect(300);
  return { rssBytes: process.memoryUsage.rss(), heapUsedBytes: process.memoryUsage().heapUsed };
}

serve<HostRequest>(async (req) => {
  switch (req.cmd) {
    case 'measure':
      return measure();
    case 'cpu': {
      const cpu = process.cpuUsage();
      return (cpu.user + cpu.system) / 1000;
    }
    default:
      throw new Error(`unknown command ${req.cmd}`);
  }
});

process.send!({ ready: true, port: await start() } satisfies { ready: true } & HostReady);
