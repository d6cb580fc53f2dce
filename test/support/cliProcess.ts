import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'cli.js');
export const NODE_ID = /^node id: ([0-9a-f]{64})$/;
export const SIGNALING = /^signaling: (http:\/\/\S+)$/;

/** A child process with its output collected line by line. */
export class LineProcess {
  readonly stdout: string[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcessWithoutNullStreams;
  #waiters: Array<() => void> = [];

  constructor(commandLine: readonly string[], env: NodeJS.ProcessEnv) {
    const [command, ...args] = commandLine as [string, ...string[]];
    this.#child = spawn(command, args, { env, cwd: ROOT });
    this.#child.stdout.setEncoding('utf8');
    let partial = '';
    this.#child.stdout.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      this.stdout.push(...lines);
      this.#notify();
    });
    this.#child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => this.#child.on('exit', (code) => resolve(code)));
    void this.exited.then(() => this.#notify());
  }

  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  #notify(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** The first stdout line (after `from`) matching `pattern`; fails after `ms` or when the process ends. */
  async line(pattern: RegExp, ms = 10_000, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const match = this.stdout.slice(from).map((l) => l.match(pattern)).find(Boolean);
      if (match) return match;
      const left = deadline - Date.now();
      if (left <= 0 || !this.alive) {
        throw new Error(`no stdout line matching ${pattern}; stdout:\n${this.stdout.join('\n')}\nstderr:\n${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  type(line: string): void {
    this.#child.stdin.write(`${line}\n`);
  }

  /** Closes the child's stdin, as when a node runs headless. */
  endInput(): void {
    this.#child.stdin.end();
  }

  signal(name: NodeJS.Signals): void {
    this.#child.kill(name);
  }

  /** The exit code, failing the test if the process has not ended after `ms`. */
  async exitCode(ms = 10_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still running after ${ms} ms; stderr:\n${this.stderr}`)), ms);
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (this.alive) this.#child.kill('SIGKILL');
  }
}

/** One `p2p-node` child process (dist/cli.js); `wrap` is a command it runs under, such as `ip netns exec NAME`. */
export class Cli extends LineProcess {
  constructor(args: string[], env: NodeJS.ProcessEnv, wrap: readonly string[] = []) {
    super([...wrap, process.execPath, CLI, ...args], env);
  }
}
