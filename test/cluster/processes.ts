/**
 * The cluster tests' moving parts as real processes: a redis-server on a free loopback port, and
 * signaling servers started through the CLI (`p2p-node signal --redis`), each killable at will.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli.js');

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A child process, its output kept, resolved once a line of it matches. */
export class Child {
  readonly output: string[] = [];
  readonly exited: Promise<number | null>;
  #waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];

  constructor(readonly process: ChildProcess) {
    let partial = '';
    const onData = (chunk: Buffer): void => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        this.output.push(line);
        for (const waiter of this.#waiters.filter((w) => w.pattern.test(line))) waiter.resolve(line);
        this.#waiters = this.#waiters.filter((w) => !w.pattern.test(line));
      }
    };
    process.stdout!.on('data', onData);
    process.stderr!.on('data', onData);
    this.exited = new Promise((resolve) => process.once('exit', (code) => resolve(code)));
  }

  line(pattern: RegExp, ms = 15_000): Promise<string> {
    const seen = this.output.find((l) => pattern.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${ms} ms:\n${this.output.join('\n')}`)), ms);
      this.#waiters.push({ pattern, resolve: (line) => (clearTimeout(timer), resolve(line)) });
    });
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal);
    await this.exited;
  }
}

export class Redis extends Child {
  constructor(readonly port: number) {
    super(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'pipe' }));
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** One command through `redis-cli`, its reply as text (one line per element of an array reply). */
  cli(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), ...args], (err, stdout) => (err ? reject(err) : resolve(stdout.trim())));
    });
  }

  /** How many clients are subscribed to each sharded channel. */
  async shardNumSub(...channels: string[]): Promise<number[]> {
    const lines = (await this.cli('PUBSUB', 'SHARDNUMSUB', ...channels)).split('\n');
    return channels.map((_, i) => Number(lines[2 * i + 1]));
  }

  /** How many times Redis has run each command (`INFO commandstats`), by lower-case name. */
  async commandCalls(): Promise<Record<string, number>> {
    const calls: Record<string, number> = {};
    for (const match of (await this.cli('INFO', 'commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1]!] = Number(match[2]);
    return calls;
  }

  static async start(port?: number): Promise<Redis> {
    const redis = new Redis(port ?? (await freePort()));
    await redis.line(/Ready to accept connections/);
    return redis;
  }
}

export class SignalingProcess extends Child {
  url = '';

  static async start(redisUrl: string): Promise<SignalingProcess> {
    const server = new SignalingProcess(
      spawn(process.execPath, [CLI, 'signal', '--host', '127.0.0.1', '--port', '0', '--redis', redisUrl], { stdio: 'pipe' }),
    );
    server.url = (await server.line(/^signaling: /)).slice('signaling: '.length).trim();
    return server;
  }
}
