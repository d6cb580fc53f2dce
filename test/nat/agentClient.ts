/**
 * Typed driver for a node agent (agent.ts) running inside a lab namespace.
 *
 * ```ts
 * const a = await NatAgent.spawn(lab, NS.hostA);
 * const b = await NatAgent.spawn(lab, NS.hostB);
 * await a.start({ signalingUrl: signaling.url, iceServers: turn.iceServers(), timeouts: { ice: 8_000 } });
 * await b.start({ signalingUrl: signaling.url });
 * const outcome = await a.connect(b.nodeId); // { ok: true, ms } or { ok: false, error: { code, message } }
 * const [peer] = await a.peers();            // peer.route: 'host' | 'srflx' | 'prflx' | 'relay'
 * ```
 */
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import type { DhtInfo, PeerInfo } from '../../src/index.js';
import type { AgentApi, AgentCommand, AgentEvent, BulkResult, ReceivedSummary, StartRequest } from './agent.js';
import { ROOT, type LabProcess, type Namespace, type NatLab } from './lab.js';

export type { AgentEvent, BulkResult, ReceivedSummary, StartRequest } from './agent.js';

/** An error the agent reported: a library `P2PError` code, or `ERR_AGENT*` for the agent's own. */
export class AgentError extends Error {
  constructor(
    readonly code: string,
    /** The message without the code. */
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
  }
}

export type ConnectOutcome = { ok: true; ms: number } | { ok: false; error: { code: string; message: string } };

const AGENT = join(ROOT, 'test', 'nat', 'agent.ts');
const DEFAULT_MS = 30_000;

export class NatAgent {
  /** Set by {@link start}. */
  nodeId = '';
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(
    readonly process: LabProcess,
    readonly ns: Namespace,
  ) {
    createInterface({ input: process.child.stdout }).on('line', (line) => this.#onLine(line));
    void process.exited.then((code) => {
      const err = new Error(`agent in ${ns} exited (${String(code)}); stderr:\n${process.stderr.slice(-4_000)}`);
      for (const { reject } of this.#pending.values()) reject(err);
      this.#pending.clear();
    });
  }

  /** Starts an agent process in `ns` (tracked by the lab: killed by `lab.stop()`); resolves once it is ready. */
  static async spawn(lab: NatLab, ns: Namespace, env: NodeJS.ProcessEnv = {}): Promise<NatAgent> {
    const proc = lab.spawn(ns, globalThis.process.execPath, ['--import', 'tsx', AGENT], env);
    await proc.line(/^\{"ready":true\}$/, 30_000);
    return new NatAgent(proc, ns);
  }

  /** Creates the node and registers with the signaling server; resolves with (and remembers) its id. */
  async start(options: StartRequest, timeoutMs = DEFAULT_MS): Promise<string> {
    const { nodeId } = await this.request('start', options, timeoutMs);
    this.nodeId = nodeId;
    return nodeId;
  }

  /** Connects to `peerId`; a library failure (ERR_ICE_FAILED, ERR_CONNECT_TIMEOUT, …) is an outcome, not a rejection. */
  async connect(peerId: string, timeoutMs = 60_000): Promise<ConnectOutcome> {
    try {
      return await this.request('connect', { peerId }, timeoutMs);
    } catch (err) {
      if (err instanceof AgentError && !err.code.startsWith('ERR_AGENT')) return { ok: false, error: { code: err.code, message: err.detail } };
      throw err;
    }
  }

  peers(): Promise<PeerInfo[]> {
    return this.request('peers', {});
  }

  /** Sends one message; strings stay text, `Uint8Array`s binary. */
  async send(peerId: string, data: string | Uint8Array): Promise<void> {
    const args = typeof data === 'string' ? { peerId, text: data } : { peerId, bytes: Buffer.from(data).toString('base64') };
    await this.request('send', args);
  }

  /** Sends `totalBytes` of random binary data (default 10 MiB) in `chunkBytes` messages; resolves with their SHA-256. */
  sendBulk(peerId: string, totalBytes = 10 * 1024 * 1024, { chunkBytes = 64 * 1024, timeoutMs = 120_000 } = {}): Promise<BulkResult> {
    return this.request('sendBulk', { peerId, totalBytes, chunkBytes }, timeoutMs);
  }

  /** Everything received so far, by sender id. */
  received(): Promise<Record<string, ReceivedSummary>> {
    return this.request('received', {});
  }

  /** Resolves once `binaryBytes` of binary data arrived from `from`. */
  waitReceived(from: string, binaryBytes: number, timeoutMs = 120_000): Promise<ReceivedSummary> {
    return this.request('waitReceived', { from, binaryBytes, timeoutMs }, timeoutMs + 5_000);
  }

  /** Peer events (connected / closed with reason) and signaling state changes, oldest first. */
  events(): Promise<AgentEvent[]> {
    return this.request('events', {});
  }

  async disconnect(peerId: string): Promise<void> {
    await this.request('disconnect', { peerId });
  }

  /** Announces the node under `topic` in the DHT (started with `dht`), and keeps it announced. */
  async join(topic: string): Promise<void> {
    await this.request('join', { topic });
  }

  /** The node ids announced under `topic` (its own left out), and how long the lookup took. */
  lookup(topic: string): Promise<{ ids: string[]; ms: number }> {
    return this.request('lookup', { topic });
  }

  /** The node's `dhtInfo()`: the DHT's state, contacts, links and counters; undefined without `dht`. */
  dhtInfo(): Promise<DhtInfo | undefined> {
    return this.request('dhtInfo', {});
  }

  /** Stops the node and the agent; SIGKILLs it if that takes over `timeoutMs`. Safe on a dead agent. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.process.alive) await this.request('stop', {}, timeoutMs).catch(() => {});
    this.process.signal('SIGKILL');
    await this.process.exited;
  }

  /** One raw request; rejects with {@link AgentError} on an error reply, or after `timeoutMs`. */
  request<K extends AgentCommand>(cmd: K, args: AgentApi[K][0], timeoutMs = DEFAULT_MS): Promise<AgentApi[K][1]> {
    if (!this.process.alive) return Promise.reject(new Error(`agent in ${this.ns} is not running`));
    const id = this.#nextId++;
    return new Promise<AgentApi[K][1]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new AgentError('ERR_AGENT_TIMEOUT', `${cmd} in ${this.ns}: no reply after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (value) => (clearTimeout(timer), resolve(value as AgentApi[K][1])),
        reject: (err) => (clearTimeout(timer), reject(err)),
      });
      this.process.write(`${JSON.stringify({ ...args, id, cmd })}\n`);
    });
  }

  #onLine(line: string): void {
    let message: { id?: number; result?: unknown; error?: { code: string; message: string } };
    try {
      message = JSON.parse(line) as typeof message;
    } catch {
      return; // not ours (a stray console.log in the library)
    }
    const waiter = message.id === undefined ? undefined : this.#pending.get(message.id);
    if (!waiter) return;
    this.#pending.delete(message.id!);
    if (message.error) waiter.reject(new AgentError(message.error.code, message.error.message));
    else waiter.resolve(message.result);
  }
}
