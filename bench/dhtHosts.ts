/**
 * The parent's side of bench/dhtHost.ts: starting host processes and asking one of their nodes,
 * shared by the DHT bench section and the multi-process DHT test.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Child } from './child.js';
import type { DhtHostConfig, DhtHostReady, DhtHostRequest } from './dhtHost.js';

const HOST = resolve(dirname(fileURLToPath(import.meta.url)), 'dhtHost.ts');

/** A process hosting DHT nodes. */
export type DhtHost = Child<DhtHostRequest, DhtHostReady>;

/** One node of a host: its index there and its id. */
export interface HostedNode {
  host: DhtHost;
  index: number;
  id: string;
}

/** Starts a host process with `config`; its `ready` resolves with the ids of its nodes. */
export function startDhtHost(name: string, config: DhtHostConfig): DhtHost {
  return new Child<DhtHostRequest, DhtHostReady>(name, HOST, config);
}

/** Sends `request` to `node` in its host and resolves with the reply. */
export function ask<T>(node: HostedNode, request: Record<string, unknown> & { cmd: string }, timeoutMs = 30_000): Promise<T> {
  return node.host.request<T>({ ...request, node: node.index } as never, timeoutMs);
}
