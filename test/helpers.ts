import type { ChildProcess } from 'node:child_process';
import { firstValueFrom, filter, take, timeout, toArray, type Observable } from 'rxjs';
import { createNode, createSignalingServer, loopbackOnly, type NodeOptions, type P2PNode } from '../src/index.js';
import type { SignalingServer, SignalingServerOptions } from '../src/index.js';

/** Tracks what a test starts so `cleanup()` can release all of it, whatever the outcome. */
export class Harness {
  readonly nodes: P2PNode[] = [];
  readonly servers: SignalingServer[] = [];
  readonly #deferred: (() => Promise<void>)[] = [];
  readonly #children: ChildProcess[] = [];

  /** Kills `child` first at cleanup, before the servers close (a frozen client would hold its close for 30 s). */
  adopt(child: ChildProcess): void {
    this.#children.push(child);
  }

  /** Runs `release` at cleanup, after the nodes have stopped. */
  defer(release: () => Promise<void>): void {
    this.#deferred.push(release);
  }

  async server(options: SignalingServerOptions = {}): Promise<SignalingServer> {
    const server = await createSignalingServer({ port: 0, host: '127.0.0.1', ...options });
    this.servers.push(server);
    return server;
  }

  node(signalingUrl: NodeOptions['signalingUrl'], options: Partial<NodeOptions> = {}): P2PNode {
    const node = createNode({ signalingUrl, candidateFilter: loopbackOnly, ...options });
    this.nodes.push(node);
    return node;
  }

  async started(signalingUrl: NodeOptions['signalingUrl'], options: Partial<NodeOptions> = {}): Promise<P2PNode> {
    const node = this.node(signalingUrl, options);
    await node.start();
    return node;
  }

  /** A server and two nodes on it, `a` connected to `b`. */
  async connectedPair(): Promise<{ server: SignalingServer; a: P2PNode; b: P2PNode }> {
    const server = await this.server();
    const a = await this.started(server.url);
    const b = await this.started(server.url);
    await a.connectToNode(b.nodeId);
    return { server, a, b };
  }

  async cleanup(): Promise<void> {
    for (const child of this.#children.splice(0)) child.kill('SIGKILL');
    await Promise.allSettled(this.nodes.map((n) => n.stop()));
    await Promise.allSettled(this.servers.map((s) => s.close()));
    await Promise.allSettled(this.#deferred.splice(0).map((release) => release()));
  }
}

/** The first value of `source` matching `predicate`, or a rejection after `ms`. */
export function next<T>(source: Observable<T>, predicate: (value: T) => boolean = () => true, ms = 10_000): Promise<T> {
  return firstValueFrom(source.pipe(filter(predicate), take(1), timeout(ms)));
}

/** The first `count` values of `source` matching `predicate`. */
export function collect<T>(source: Observable<T>, count: number, predicate: (value: T) => boolean = () => true, ms = 10_000): Promise<T[]> {
  return firstValueFrom(source.pipe(filter(predicate), take(count), toArray(), timeout(ms)));
}

/** Retries `check` every `everyMs` until it passes or `ms` run out (then rethrows its last failure). */
export async function eventually(check: () => void | Promise<void>, ms = 3000, everyMs = 5): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }
}
