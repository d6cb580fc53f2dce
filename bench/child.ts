/**
 * Bench child processes and their parent, over Node's IPC channel: the parent's requests carry an
 * `id` and get exactly one reply each; a child says `{ ready: true, … }` once, unasked, when it can
 * take requests. Children are bounded: they exit when the parent goes away and after a deadline.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMs } from './procStats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one host. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/**
 * Makes a child bounded: it exits when the parent goes away (IPC closed) and after `deadlineMs`
 * whatever happens. Always `process.exit`: a natural exit after closing wrtc connections can segfault.
 */
export function boundChild(name: string, deadlineMs: number): void {
  if (!process.send) {
    console.error(`${name}: must be started by its bench parent (needs an IPC channel)`);
    process.exit(2);
  }
  process.on('disconnect', () => process.exit(0));
  setTimeout(() => {
    console.error(`${name}: deadline of ${deadlineMs} ms reached, exiting`);
    process.exit(3);
  }, deadlineMs).unref();
}

/** Serves requests from the parent with `handle`; replies with its result or its error message. */
export function serve<Req extends { id: number; cmd: string }>(handle: (req: Req) => Promise<unknown>): void {
  process.on('message', (req: Req) => {
    if (req.cmd === 'exit') {
      process.send!({ id: req.id, ok: true, result: null } satisfies Reply, undefined, {}, () => process.exit(0));
      return;
    }
    handle(req).then(
      (result) => process.send!({ id: req.id, ok: true, result } satisfies Reply),
      (err: unknown) => process.send!({ id: req.id, ok: false, error: (err as Error)?.message ?? String(err) } satisfies Reply),
    );
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Full collection when the process was started with --expose-gc; then a pause for wrtc's async release. */
export async function collect(settleMs: number): Promise<void> {
  (globalThis as { gc?: () => void }).gc?.();
  await sleep(settleMs);
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * What a child that is late to start was doing, from /proc: its scheduler state, threads and CPU time.
 * Hung in startup (a loader deadlock) shows as sleeping with next to no CPU; starved, as CPU spent.
 */
function stateOf(pid: number | undefined): string {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): string => new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(status)?.[1] ?? '?';
    return `state ${field('State')}, ${field('Threads')} threads, ${Math.round(cpuMs(pid!).total)} ms CPU`;
  } catch {
    return 'no /proc entry';
  }
}

export type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** A bench child process spoken to over IPC: one reply per request. */
export class Child<Req extends { cmd: string }, R extends object = object> {
  readonly name: string;
  readonly ready: Promise<R>;
  readonly exited: Promise<string>;
  #proc: ChildProcess;
  #next = 1;
  #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #exitReason: string | undefined;
  #expectExit = false;

  /** The child's process id, for readings from /proc. */
  get pid(): number {
    return this.#proc.pid ?? Number.NaN;
  }

  /**
   * Starts `file` with `config` as its argument. A child not ready within `readyTimeoutMs` is killed
   * and `ready` rejects: a child can hang before its own deadline timer runs (a loader deadlock under
   * `--import tsx` was seen once in about a hundred starts), and a bench must end by itself.
   */
  constructor(name: string, file: string, config: object, readyTimeoutMs = 60_000) {
    this.name = name;
    this.#proc = fork(file, [JSON.stringify(config)], {
      cwd: ROOT,
      // BENCH_CPU_PROF=<dir>: every child writes a V8 CPU profile there when it exits.
      execArgv: ['--expose-gc', '--import', 'tsx', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let late: NodeJS.Timeout | undefined;
    this.ready = new Promise((resolveReady, rejectReady) => {
      late = setTimeout(() => {
        this.#exitReason ??= `${name} was not ready within ${readyTimeoutMs} ms (${stateOf(this.#proc.pid)})`;
        this.#proc.kill('SIGKILL');
      }, readyTimeoutMs);
      this.#proc.on('message', (m: ({ ready: true } & R) | Reply) => {
        if ('ready' in m) return resolveReady(m);
        const pending = this.#pending.get(m.id);
        this.#pending.delete(m.id);
        if (m.ok) pending?.resolve(m.result);
        else pending?.reject(new Error(`${name}: ${m.error}`));
      });
      this.#proc.once('exit', (code, signal) => {
        this.#exitReason ??= `${name} exited with ${signal ?? `code ${code}`}`;
        rejectReady(new Error(this.#exitReason));
      });
    });
    this.ready.then(
      () => clearTimeout(late),
      () => clearTimeout(late),
    );
    this.exited = new Promise((resolveExit) => {
      this.#proc.once('exit', (code) => {
        for (const p of this.#pending.values()) p.reject(new Error(this.#exitReason));
        this.#pending.clear();
        resolveExit(this.#expectExit && code === 0 ? '' : this.#exitReason!);
      });
    });
  }

  request<T>(req: WithoutId<Req>, timeoutMs: number): Promise<T> {
    if (this.#exitReason) return Promise.reject(new Error(this.#exitReason));
    const id = this.#next++;
    return new Promise<T>((resolveReq, rejectReq) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        rejectReq(new Error(`${this.name}: ${req.cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolveReq(v as T)),
        reject: (e) => (clearTimeout(timer), rejectReq(e)),
      });
      this.#proc.send({ ...req, id });
    });
  }

  /** Asks the child to exit (it calls process.exit(0)); kills it by pid if it has not within 3 s. */
  async stop(): Promise<string> {
    this.#expectExit = true;
    if (!this.#exitReason) {
      await this.request({ cmd: 'exit' } as WithoutId<Req>, 2000).catch(() => {});
      const killer = setTimeout(() => this.#proc.kill('SIGKILL'), 3000);
      await this.exited;
      clearTimeout(killer);
    }
    return this.exited;
  }
}
