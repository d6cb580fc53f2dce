/**
 * A NAT traversal lab in network namespaces. Root only (see {@link requireLab}); documentation
 * addresses only; nothing is attached to the host's own interfaces.
 *
 * ```
 * p2pl-ha  192.0.2.10    ── p2pl-ra (lan 192.0.2.1,    wan 203.0.113.2) ──┐
 * p2pl-hb  198.51.100.10 ── p2pl-rb (lan 198.51.100.1, wan 203.0.113.3) ──┤ bridge in p2pl-inet,
 * p2pl-hc  192.0.2.30    ── p2pl-rc (lan 192.0.2.1,    wan 203.0.113.4) ──┤ (LAN C: only with `lanC`)
 * p2pl-pub 203.0.113.20 (public, no NAT) ──────────────────────────────────┤ 203.0.113.10 and .11:
 * p2pl-void 203.0.113.254: everyone's default route; drops all, silently ──┘ signaling :8080, coturn :3478
 * ```
 *
 * ```ts
 * const lab = await NatLab.start({ natA: 'cone', natB: 'symmetric' });
 * try {
 *   const signaling = await lab.startSignaling();
 *   const turn = await lab.startTurn();
 *   // NatAgent.spawn(lab, NS.hostA) … (agentClient.ts)
 * } finally {
 *   await lab.stop();
 * }
 * ```
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { isProcessAlive } from '../../src/cli/identityLease.js';
import type { IceServer } from '../../src/index.js';
import { turnCredentials } from '../../src/server/turnCredentials.js';
import { ADDR, INET, INET_LAN_C, NS, PRELUDE, VOID, host, router, routerLinks, type Namespace, type NatKind } from './topology.js';

export { ADDR, NS, type Namespace, type NatKind } from './topology.js';

export const ROOT = join(import.meta.dirname, '..', '..');


/** Applied by a router to packets coming from its LAN, like netem on the upstream link: one way, so RTT rises by `delayMs`. */
export interface Impairment {
  router: 'a' | 'b';
  lossPercent: number;
  delayMs: number;
}

export interface NatLabOptions {
  natA: NatKind;
  natB: NatKind;
  /** A third LAN (router C, host C) behind this kind of NAT; without it the lab has two, as most scenarios need. */
  lanC?: NatKind;
  impair?: Impairment;
}

export interface SignalingInfo {
  /** `http://203.0.113.10:8080`, or the broker's `mqtt://203.0.113.10:1883/lab` */
  url: string;
  process: LabProcess;
}

export interface TurnInfo {
  /** `['turn:203.0.113.10:3478?transport=udp']` */
  urls: string[];
  /** `['stun:203.0.113.10:3478']`: the same coturn answers plain STUN. */
  stunUrls: string[];
  /** The `--static-auth-secret` (TURN REST API scheme), for {@link turnCredentials}. */
  secret: string;
  /** Credentials valid for an hour, ready for `iceServers` or `--turn-user` / `--turn-pass`. */
  username: string;
  credential: string;
  /** `[{ urls, username, credential }]`, optionally with the STUN URL first. */
  iceServers(options?: { stun?: boolean }): IceServer[];
  process: LabProcess;
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface UdpProbeResult {
  sent: number;
  received: number;
  /** Round trip of each answered probe, in send order. */
  rttsMs: number[];
  medianRttMs: number | undefined;
  /** The source address:port the echo server saw, per answered probe (the NAT mapping). */
  seenAs: string[];
}

const PREFIX = 'p2pl-';
/** mkdtemp's `p2pl-XXXXXX`. */
const SCRATCH = /^p2pl-[A-Za-z0-9]{6}$/;
const LOCK = '/run/p2pl-lab.lock';
const TURN_PORT = 3478;
const SIGNALING_PORT = 8080;
const BROKER_PORT = 1883;
const MAX_OUTPUT = 4 << 20;
const DELAYER_LIFETIME_S = 3 * 3600;

/**
 * Throws a clear error unless this process can build the lab: Linux, root, `ip netns`, iptables,
 * coturn and python3. Lab tests call it first so they fail (never skip) where the lab cannot run.
 */
export function requireLab(): void {
  const problems: string[] = [];
  if (process.platform !== 'linux') problems.push(`needs Linux, not ${process.platform}`);
  else if (process.getuid?.() !== 0) problems.push('needs root (network namespaces and iptables)');
  for (const tool of ['ip', 'iptables', 'iptables-restore', 'turnserver', 'turnutils_stunclient', 'python3']) {
    if (!which(tool)) problems.push(`${tool} not found`);
  }
  if (problems.length === 0) {
    try {
      execFileSync('ip', ['netns', 'list'], { stdio: 'pipe', timeout: 5_000 });
    } catch (err) {
      problems.push(`\`ip netns list\` fails: ${(err as Error).message}`);
    }
  }
  if (problems.length) {
    throw new Error(`NAT lab unavailable: ${problems.join('; ')}. Run as root after scripts/install-nat-deps.sh.`);
  }
}

/** Credentials for the lab's coturn, valid for an hour, as the signaling server would hand them out. */
const labCredentials = (secret: string) => turnCredentials(secret, 'lab', Math.floor(Date.now() / 1000) + 3600);

export class LabProcess {
  stdout = '';
  stderr = '';
  /** The exit code, or null when a signal ended it. Never rejects. */
  readonly exited: Promise<number | null>;
  #waiters = new Set<() => void>();

  constructor(
    readonly ns: Namespace,
    readonly command: string,
    readonly child: ChildProcessWithoutNullStreams,
  ) {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout = (this.stdout + chunk).slice(-MAX_OUTPUT);
      this.#notify();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.stderr = (this.stderr + chunk).slice(-MAX_OUTPUT)));
    child.stdin.on('error', () => {}); // EPIPE once the process died: its exit is reported instead
    this.exited = new Promise((resolve) => {
      child.on('error', (err) => {
        this.stderr += `\n${err.message}`;
        resolve(null);
      });
      child.on('close', (code) => resolve(code));
      // A grandchild holding the pipes would delay 'close' forever; the output so far is enough.
      child.on('exit', (code) => setTimeout(() => (child.stdout.destroy(), child.stderr.destroy(), resolve(code)), 500).unref());
    });
    void this.exited.then(() => this.#notify());
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first stdout line matching `pattern`; rejects after `ms` or when the process ends first. */
  async line(pattern: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const match = this.stdout.split('\n').map((l) => l.match(pattern)).find(Boolean);
      if (match) return match;
      const left = deadline - Date.now();
      if (left <= 0 || !this.alive) {
        const why = left <= 0 ? `after ${ms} ms` : `exit ${String(this.child.exitCode ?? this.child.signalCode)}`;
        throw new Error(`${this.command} in ${this.ns}: no line matching ${pattern} (${why})\nstdout: ${tail(this.stdout)}\nstderr: ${tail(this.stderr)}`);
      }
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#waiters.add(wake);
      });
    }
  }

  /** Signals the whole process group (spawned detached), so helpers it started go too. */
  signal(signal: NodeJS.Signals = 'SIGKILL'): void {
    try {
      if (this.child.pid) process.kill(-this.child.pid, signal);
    } catch {
      this.child.kill(signal);
    }
  }

  write(text: string): void {
    if (this.child.stdin.writable) this.child.stdin.write(text);
  }

  #notify(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}

/** One lab at a time per machine: the namespace names are fixed. */
export class NatLab {
  readonly options: NatLabOptions;
  /** Scratch space (coturn's pid file and database, the delayer script); removed by {@link stop}. */
  readonly tmpDir: string;
  readonly #processes = new Set<LabProcess>();
  readonly #onExit = (): void => this.#stopSync();
  #stopped: Promise<void> | undefined;

  private constructor(options: NatLabOptions) {
    this.options = options;
    this.tmpDir = mkdtempSync(join(tmpdir(), 'p2pl-'));
  }

  /**
   * Builds the topology: removes leftovers of a crashed run, creates the namespaces, links, NAT and
   * firewalls, and the impairment if asked. Nothing runs in it yet: see {@link startSignaling},
   * {@link startTurn}, {@link spawn}. Waits up to `lockWaitMs` for a lab of another process to stop.
   */
  static async start(options: NatLabOptions, lockWaitMs = 120_000): Promise<NatLab> {
    requireLab();
    await acquireLock(lockWaitMs);
    let lab: NatLab;
    try {
      NatLab.cleanLeftovers();
      lab = new NatLab(options);
    } catch (err) {
      releaseLock();
      throw err;
    }
    process.on('exit', lab.#onExit);
    try {
      await lab.#build();
      return lab;
    } catch (err) {
      await lab.stop();
      throw err;
    }
  }

  /**
   * Kills every process inside any `p2pl-*` namespace, deletes those namespaces and the scratch
   * directories of crashed labs; returns the namespaces removed. Destroys a lab another process is
   * running: {@link start} calls it only while holding the lab lock.
   */
  static cleanLeftovers(): string[] {
    const names = listNamespaces();
    for (const ns of names) killInside(ns);
    for (const ns of names) execFileSync('ip', ['netns', 'del', ns], { stdio: 'pipe', timeout: 10_000 });
    for (const dir of readdirSync(tmpdir()).filter((d) => SCRATCH.test(d))) rmSync(join(tmpdir(), dir), { recursive: true, force: true });
    return names;
  }

  /** Tears everything down (processes, namespaces, scratch files, lock); safe to call twice. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  /**
   * Runs `command` inside `ns` (`ip netns exec`), cwd the repository root, with `env` added to this
   * process's environment. The process is SIGKILLed by {@link stop} if still running.
   */
  spawn(ns: Namespace, command: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): LabProcess {
    if (this.#stopped) throw new Error('NatLab stopped');
    const child = spawn('ip', ['netns', 'exec', ns, command, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: 'pipe',
      detached: true, // its own process group, for LabProcess.signal()
    });
    const proc = new LabProcess(ns, command, child);
    this.#processes.add(proc);
    void proc.exited.then(() => this.#processes.delete(proc));
    return proc;
  }

  /** Runs `command` inside `ns` to completion; killed after `timeoutMs`. Never rejects on a non-zero exit. */
  async exec(ns: Namespace, command: string, args: string[] = [], options: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
    const proc = this.spawn(ns, command, args);
    proc.child.stdin.end(options.input ?? '');
    const timer = setTimeout(() => proc.signal('SIGKILL'), options.timeoutMs ?? 10_000);
    const code = await proc.exited;
    clearTimeout(timer);
    return { code, stdout: proc.stdout, stderr: proc.stderr };
  }

  /**
   * `p2p-node signal --host 203.0.113.10 --port 8080` (built `dist/cli.js`) in the internet namespace;
   * given `turn`, it also hands every node credentials for that coturn (`--turn … --turn-secret …`).
   */
  async startSignaling(turn?: TurnInfo): Promise<SignalingInfo> {
    const relay = turn ? [...turn.urls.flatMap((url) => ['--turn', url]), '--turn-secret', turn.secret] : [];
    const proc = this.spawn(NS.inet, process.execPath, [join(ROOT, 'dist', 'cli.js'), 'signal', '--host', ADDR.server, '--port', String(SIGNALING_PORT), ...relay]);
    const [, url] = await proc.line(/^signaling: (http:\/\/\S+)$/, 15_000);
    return { url: url!, process: proc };
  }

  /**
   * Debian's Mosquitto on 203.0.113.10:1883 in the internet namespace: an MQTT broker to signal
   * through instead of our server. `url` names it under the topic prefix `lab`; resolves once it runs.
   */
  async startBroker(): Promise<SignalingInfo> {
    const config = join(this.tmpDir, 'mosquitto.conf');
    // Nagle off, as a broker tuned for signaling has it (see the README).
    writeFileSync(config, [`listener ${BROKER_PORT} ${ADDR.server}`, 'allow_anonymous true', 'persistence false', 'set_tcp_nodelay true', ''].join('\n'));
    const proc = this.spawn(NS.inet, existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto', ['-c', config]);
    await this.#listening(proc, [`${ADDR.server}:${BROKER_PORT}`], 15_000, 'tcp');
    return { url: `mqtt://${ADDR.server}:${BROKER_PORT}/lab`, process: proc };
  }

  /** coturn on 203.0.113.10 (relay) and 203.0.113.11 (STUN only), port 3478, UDP/TCP, no TLS; resolves once it listens. */
  async startTurn(): Promise<TurnInfo> {
    const secret = randomBytes(16).toString('hex');
    // prettier-ignore
    const proc = this.spawn(NS.inet, 'turnserver', [
      '-n', '--no-tls', '--no-dtls', '--no-cli', '--log-file=stdout', '--simple-log',
      '--pidfile', join(this.tmpDir, 'turnserver.pid'), '--db', join(this.tmpDir, 'turndb'),
      '--listening-ip', ADDR.server, '--listening-ip', ADDR.server2, '--relay-ip', ADDR.server,
      '--listening-port', String(TURN_PORT), '--realm', 'p2p.test', '--use-auth-secret', '--static-auth-secret', secret,
    ]);
    await this.#listening(proc, [`${ADDR.server}:${TURN_PORT}`, `${ADDR.server2}:${TURN_PORT}`]);
    const urls = [`turn:${ADDR.server}:${TURN_PORT}?transport=udp`];
    const stunUrls = [`stun:${ADDR.server}:${TURN_PORT}`];
    return {
      urls,
      stunUrls,
      secret,
      ...labCredentials(secret),
      iceServers: ({ stun = false } = {}) => [...(stun ? [{ urls: stunUrls }] : []), { urls, ...labCredentials(secret) }],
      process: proc,
    };
  }

  /** Kills one lab process (default SIGKILL, e.g. "the signaling server dies") and waits up to 5 s for it to exit. */
  async kill(proc: LabProcess | { process: LabProcess }, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const target = proc instanceof LabProcess ? proc : proc.process;
    if (!target.alive) return;
    target.signal(signal);
    if ((await within(target.exited, 5_000)) === TIMEOUT) throw new Error(`${target.command} in ${target.ns} ignored ${signal} for 5 s`);
  }

  /**
   * RFC 5780 mapping discovery (`turnutils_natdiscovery -m`) from `ns`, bound to `localAddress:localPort`,
   * against coturn ({@link startTurn} first): the mapped address:port seen by 203.0.113.10:3478,
   * 203.0.113.11:3478 and (when they differ) 203.0.113.11:3479, and coturn's verdict. A cone NAT maps
   * one local port to one public port for every destination; a symmetric one does not.
   */
  async natDiscovery(ns: Namespace, localAddress: string, localPort: number): Promise<{ mapped: string[]; verdict: string }> {
    const args = ['-m', '-L', localAddress, '-l', String(localPort), ADDR.server];
    const out = await this.exec(ns, 'turnutils_natdiscovery', args, { timeoutMs: 15_000 });
    const mapped = [...out.stdout.matchAll(/UDP reflexive addr: (\S+)/g)].map((m) => m[1]!);
    const verdict = out.stdout.match(/NAT with (.+?)!/)?.[1];
    if (out.code !== 0 || !verdict) throw new Error(`natdiscovery in ${ns} failed (${String(out.code)}): ${out.stdout}${out.stderr}`);
    return { mapped, verdict };
  }

  /** A UDP echo server at `address:port` in `ns`; it answers each datagram with the sender's address:port. */
  async udpEcho(ns: Namespace, address: string, port = 7): Promise<LabProcess> {
    const proc = this.spawn(ns, process.execPath, [join(import.meta.dirname, 'udpEcho.cjs'), address, String(port)]);
    await proc.line(/^ready$/, 10_000);
    return proc;
  }

  /**
   * Sends `count` probes from `ns` to a {@link udpEcho} server, one every `intervalMs`, from one
   * socket (bound to `localPort` if given), and waits `timeoutMs` after the last for late answers.
   */
  async udpProbe(
    ns: Namespace,
    address: string,
    port = 7,
    { count = 5, intervalMs = 20, timeoutMs = 1_000, localPort = 0 } = {},
  ): Promise<UdpProbeResult> {
    const args = [join(import.meta.dirname, 'udpProbe.cjs'), address, String(port), String(count), String(intervalMs), String(timeoutMs), String(localPort)];
    const out = await this.exec(ns, process.execPath, args, { timeoutMs: count * intervalMs + timeoutMs + 10_000 });
    if (out.code !== 0) throw new Error(`udp probe from ${ns} failed (${String(out.code)}): ${out.stderr}`);
    const replies = JSON.parse(out.stdout) as { rtt: number; from: string }[];
    const rttsMs = replies.map((r) => r.rtt);
    const sorted = [...rttsMs].sort((a, b) => a - b);
    return { sent: count, received: replies.length, rttsMs, medianRttMs: sorted[Math.floor(sorted.length / 2)], seenAs: replies.map((r) => r.from) };
  }

  async #build(): Promise<void> {
    const { natA, natB, lanC } = this.options;
    const all = Object.values(NS).filter((ns) => lanC || (ns !== NS.routerC && ns !== NS.hostC));
    for (const ns of all) await run('ip', ['netns', 'add', ns]);
    // IPv6 off before any link exists, so no interface ever gets an address.
    await Promise.all(all.map((ns) => this.#sh(ns, PRELUDE)));
    await this.#sh(NS.inet, lanC ? INET + INET_LAN_C : INET);
    await Promise.all([
      this.#sh(NS.routerA, routerLinks(NS.hostA)),
      this.#sh(NS.routerB, routerLinks(NS.hostB)),
      ...(lanC ? [this.#sh(NS.routerC, routerLinks(NS.hostC))] : []),
    ]);
    await Promise.all([
      this.#sh(NS.void, VOID),
      this.#sh(NS.pub, host(ADDR.pub, 24, ADDR.void)),
      this.#sh(NS.hostA, host(ADDR.hostA, 24, ADDR.routerALan)),
      this.#sh(NS.hostB, host(ADDR.hostB, 24, ADDR.routerBLan)),
      this.#sh(NS.routerA, router(ADDR.routerAWan, ADDR.routerALan, natA)),
      this.#sh(NS.routerB, router(ADDR.routerBWan, ADDR.routerBLan, natB)),
      ...(lanC ? [this.#sh(NS.hostC, host(ADDR.hostC, 24, ADDR.routerCLan)), this.#sh(NS.routerC, router(ADDR.routerCWan, ADDR.routerCLan, lanC))] : []),
    ]);
    if (this.options.impair) await this.#impair(this.options.impair);
  }

  /** Resolves once `proc`'s namespace has sockets listening on every `address:port`; coturn and mosquitto log no such line on stdout. */
  async #listening(proc: LabProcess, endpoints: string[], ms = 15_000, protocol: 'udp' | 'tcp' = 'udp'): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      const { stdout } = await this.exec(proc.ns, 'ss', [protocol === 'udp' ? '-Hlnu' : '-Hlnt']);
      const bound = new Set(stdout.split('\n').map((line) => line.split(/\s+/)[3]));
      if (endpoints.every((e) => bound.has(e))) return;
      if (!proc.alive || Date.now() > deadline) {
        throw new Error(`${proc.command} not listening on ${endpoints.join(', ')}\nstdout: ${tail(proc.stdout)}\nstderr: ${tail(proc.stderr)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async #impair({ router, lossPercent, delayMs }: Impairment): Promise<void> {
    const ns = router === 'a' ? NS.routerA : NS.routerB;
    if (!(lossPercent >= 0 && lossPercent < 100 && delayMs >= 0)) throw new Error(`bad impairment: ${lossPercent}% loss, ${delayMs} ms`);
    const rules: string[] = [];
    if (lossPercent > 0) rules.push(`-A PREROUTING -i lan -m statistic --mode random --probability ${lossPercent / 100} -j DROP`);
    if (delayMs > 0) {
      const delayer = this.spawn(ns, 'python3', [join(import.meta.dirname, 'delayer.py'), String(delayMs), String(DELAYER_LIFETIME_S)]);
      await delayer.line(/^ready$/, 10_000);
      // raw PREROUTING runs before conntrack: queued later, --random-fully mappings break (coturn answers 438).
      rules.push('-A PREROUTING -i lan -j NFQUEUE --queue-num 0');
    }
    await this.#sh(ns, `iptables-restore --noflush <<'EOF'\n*raw\n${rules.join('\n')}\nCOMMIT\nEOF`);
  }

  async #sh(ns: string, script: string): Promise<void> {
    await run('ip', ['netns', 'exec', ns, 'sh', '-ec', script]);
  }

  async #stop(): Promise<void> {
    const procs = [...this.#processes];
    for (const p of procs) p.signal('SIGKILL');
    await within(Promise.all(procs.map((p) => p.exited)), 5_000);
    this.#teardown();
  }

  /** The process is exiting (a crashed or interrupted test run): release what we can synchronously. */
  #stopSync(): void {
    for (const p of this.#processes) p.signal('SIGKILL');
    this.#teardown();
  }

  #teardown(): void {
    process.off('exit', this.#onExit);
    try {
      NatLab.cleanLeftovers();
    } finally {
      rmSync(this.tmpDir, { recursive: true, force: true });
      releaseLock();
    }
  }
}

const TIMEOUT = Symbol('timeout');

async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof TIMEOUT>((resolve) => (timer = setTimeout(() => resolve(TIMEOUT), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

function run(command: string, args: string[], timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.slice(0, 4).join(' ')} … failed (${String(code)}): ${output.trim()}`));
    });
  });
}

function which(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

function listNamespaces(): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5_000 });
  return out
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => name.startsWith(PREFIX));
}

/** SIGKILLs every process in `ns` until none is left (bounded: 5 s). */
function killInside(ns: string): void {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const out = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 5_000 });
    const pids = out.split('\n').filter(Boolean).map(Number);
    if (pids.length === 0) return;
    if (Date.now() > deadline) throw new Error(`processes ${pids.join(', ')} in ${ns} survive SIGKILL`);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    sleepSync(50);
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

let lockHeld = false;

/** Takes the machine-wide lab lock, waiting for a live holder (another process) for up to `ms`. */
async function acquireLock(ms: number): Promise<void> {
  if (lockHeld) throw new Error('a NatLab is already running in this process: stop() it first');
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const fd = openSync(LOCK, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      lockHeld = true;
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const text = readIfExists(LOCK).trim(); // '' while its creator has yet to write its pid
    const holder = Number(text);
    if (text && !isProcessAlive(holder)) {
      rmSync(LOCK, { force: true }); // its owner crashed; its namespaces go in cleanLeftovers()
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another NatLab (pid ${holder}) has held ${LOCK} for over ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function releaseLock(): void {
  if (!lockHeld) return;
  lockHeld = false;
  try {
    unlinkSync(LOCK);
  } catch {
    // already removed
  }
}

function readIfExists(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function tail(text: string): string {
  return text.length > 2_000 ? `…${text.slice(-2_000)}` : text;
}
