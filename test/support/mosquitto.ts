/**
 * A real Mosquitto broker (Debian's `mosquitto`, installed by scripts/install-mosquitto.sh) on a free
 * loopback port, with a WebSocket listener beside it, killable and restartable on the same ports.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Child, freePort } from '../cluster/processes.js';

export class Mosquitto {
  #child: Child | undefined;
  readonly #dir = mkdtempSync(join(tmpdir(), 'p2p-mosquitto-'));

  private constructor(
    readonly port: number,
    readonly wsPort: number,
  ) {
    // `socket_domain ipv4`: without it, the WebSocket listener binds every interface whatever address it names.
    writeFileSync(
      join(this.#dir, 'mosquitto.conf'),
      [`listener ${port} 127.0.0.1`, `listener ${wsPort} 127.0.0.1`, 'protocol websockets', 'socket_domain ipv4', 'allow_anonymous true', 'persistence false', 'set_tcp_nodelay true', 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type information', ''].join('\n'),
    );
  }

  /** The broker's process id, while it runs. */
  get pid(): number {
    return this.#child!.process.pid!;
  }

  /** The signaling URL of this broker under `prefix`: MQTT over TCP, or over WebSocket. */
  url(prefix: string, transport: 'tcp' | 'ws' = 'tcp'): string {
    return transport === 'tcp' ? `mqtt://127.0.0.1:${this.port}/${prefix}` : `ws://127.0.0.1:${this.wsPort}/mqtt?prefix=${prefix}`;
  }

  /** Starts (or starts again) the broker, resolved once it listens. */
  async run(): Promise<void> {
    // /usr/sbin is not on every PATH.
    const command = existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto';
    const child = new Child(spawn(command, ['-c', join(this.#dir, 'mosquitto.conf')], { stdio: 'pipe' }));
    child.process.once('error', (err) => child.output.push(`cannot run mosquitto (scripts/install-mosquitto.sh installs it): ${err.message}`));
    this.#child = child;
    // A broker outlives a parent that exits without closing it (a bench child at its deadline).
    process.once('exit', () => child.process.kill('SIGKILL'));
    await child.line(/mosquitto version .* running/);
  }

  /** SIGKILL: the broker vanishes without a word to its clients. */
  async kill(): Promise<void> {
    await this.#child?.kill('SIGKILL');
  }

  /** Stops the broker and removes its files. */
  async close(): Promise<void> {
    await this.#child?.kill('SIGTERM');
    rmSync(this.#dir, { recursive: true, force: true });
  }

  static async start(): Promise<Mosquitto> {
    const broker = new Mosquitto(await freePort(), await freePort());
    await broker.run();
    return broker;
  }
}
