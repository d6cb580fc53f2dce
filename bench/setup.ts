/**
 * Section 3, connection setup time: bare simple-peer signaling through a minimal Socket.IO relay
 * (bench/relay.ts) vs `node.connectToNode()` through our signaling server (registration, signed
 * envelopes encrypted end to end, DTLS certificate check); the same with encryption off (the cost
 * of encryption: a hello round trip for a peer of unknown key, and the ciphers); and through a real
 * Mosquitto broker instead of our server. Fresh peers (of unknown key) for every connection, the
 * contenders alternating connection by connection (A B C D A B …), timed from the call to the
 * initiator's open channel (simple-peer 'connect') or to `connectToNode` resolving. Loopback
 * candidates only.
 *
 * Both ends, the relay, the signaling server and the broker's client side all live in ONE child
 * process (the same for every contender), so that a libwebrtc crash costs this section, not the whole bench; the child is
 * started with --expose-gc and collects after every connection (outside the timed span), so closed
 * connections do not pile up file descriptors.
 *
 * Standalone: tsx bench/setup.ts [--smoke]
 */
import { fork } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions, BenchRow, BenchSection } from './types.js';

const SELF = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(SELF), '..');
const BASELINE = 'bare simple-peer';
const OURS = 'p2p-dht-node';
const PLAIN = 'p2p-dht-node, unencrypted';
const BROKER = 'p2p-dht-node via Mosquitto';
const CONTENDERS = [BASELINE, OURS, PLAIN, BROKER] as const;
type Contender = (typeof CONTENDERS)[number];

/** Child → parent messages. */
type ChildMessage =
  | { type: 'sample'; contender: Contender; ms: number }
  | { type: 'error'; contender: Contender; message: string }
  | { type: 'done' };

interface Plan {
  /** Measured connections per contender. */
  connections: number;
  /** Discarded connections per contender before measuring (first wrtc load, JIT). */
  warmup: number;
  /** Per-connection bound; a connection slower than this counts as an error. */
  connectTimeoutMs: number;
  /** The child exits on its own after this long, whatever happens. */
  deadlineMs: number;
}

function plan(smoke: boolean): Plan {
  return smoke
    ? { connections: 5, warmup: 1, connectTimeoutMs: 10_000, deadlineMs: 30_000 }
    : { connections: 60, warmup: 3, connectTimeoutMs: 10_000, deadlineMs: 300_000 };
}

export async function run(options: BenchOptions): Promise<BenchSection[]> {
  const p = plan(options.smoke);
  const started = performance.now();
  const samples = Object.fromEntries(CONTENDERS.map((c) => [c, [] as number[]])) as Record<Contender, number[]>;
  const errors = Object.fromEntries(CONTENDERS.map((c) => [c, [] as string[]])) as Record<Contender, string[]>;
  const exit = await new Promise<string | undefined>((done) => {
    const child = fork(SELF, ['--child', JSON.stringify(p)], {
      cwd: ROOT,
      execArgv: ['--expose-gc', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let finished = false;
    const killer = setTimeout(() => child.kill('SIGKILL'), p.deadlineMs + 5_000);
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'sample') samples[m.contender].push(m.ms);
      else if (m.type === 'error') errors[m.contender].push(m.message);
      else finished = true;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      done(finished && code === 0 ? undefined : `setup child exited with ${signal ?? `code ${code}`}${finished ? ' after finishing' : ' before finishing'}`);
    });
  });
  const { percentile, rows, round } = await import('./stats.js');
  const seconds = (performance.now() - started) / 1000;
  const note = (c: Contender): string => {
    const s = samples[c];
    const parts = [
      `p50 ${round(percentile(s, 0.5))} ms, p95 ${round(percentile(s, 0.95))} ms over ${s.length} fresh pairs (${p.warmup} warm-up discarded)`,
      `errors ${errors[c].length}${errors[c].length ? `: ${[...new Set(errors[c])].slice(0, 3).join('; ')}` : ''}`,
    ];
    if (exit) parts.push(exit);
    // The cost of encryption, against the same node with it off, in the same run.
    if (c === OURS) parts.push(`${round(percentile(s, 0.5) / percentile(samples[PLAIN], 0.5))}× the p50 unencrypted`);
    if (c === BROKER) parts.push(`${round(percentile(s, 0.5) / percentile(samples[OURS], 0.5))}× the p50 through our server`);
    if (c === OURS) parts.push(`section took ${round(seconds)} s; both ends, the servers and the broker's clients in one child process, loopback only`);
    return parts.join('; ');
  };
  const notes = Object.fromEntries(CONTENDERS.map((c) => [c, note(c)])) as Record<Contender, string>;
  const p50 = rows('setup p50', 'ms', samples, BASELINE, notes);
  const p95Base = percentile(samples[BASELINE], 0.95);
  const p95: BenchRow[] = CONTENDERS.map((c) => {
    const s = samples[c];
    const value = percentile(s, 0.95);
    const row: BenchRow = {
      metric: 'setup p95',
      contender: c,
      unit: 'ms',
      median: value,
      min: s.length ? Math.min(...s) : Number.NaN,
      max: s.length ? Math.max(...s) : Number.NaN,
      samples: [...s],
      note: 'the median column holds the p95 of the samples',
    };
    if (Number.isFinite(p95Base) && p95Base > 0 && Number.isFinite(value)) {
      row.ratio = value / p95Base;
      row.baseline = BASELINE;
    }
    return row;
  });
  /** Short name: bench/run.ts keys result files, ordering and titles by it. */
  return [{ name: 'setup', rows: [...p50, ...p95] }];
}

// ---------------------------------------------------------------------------------------------
// The child: measures and reports each sample as it goes, so a crash keeps what was measured.

async function child(p: Plan): Promise<void> {
  // Bounded whatever happens: the deadline, or the parent going away.
  setTimeout(() => {
    console.error(`setup child: deadline ${p.deadlineMs} ms reached, exiting`);
    process.exit(3);
  }, p.deadlineMs).unref();
  process.on('disconnect', () => process.exit(0));
  const send = (m: ChildMessage): void => void process.send?.(m);

  const { createRequire } = await import('node:module');
  const SimplePeer = (await import('simple-peer')).default;
  const { firstValueFrom, filter } = await import('rxjs');
  const { createNode, createSignalingServer, loopbackOnly } = await import('../src/index.js');
  const { acceptsCandidate, filterSdp } = await import('../src/webrtc/candidates.js');
  const { startRelay, relayClient } = await import('./relay.js');
  const { LOOPBACK_CROWD } = await import('./serverLimits.js');
  type Peer = InstanceType<typeof SimplePeer>;
  type SignalData = import('simple-peer').SignalData;
  const wrtc = createRequire(import.meta.url)('@roamhq/wrtc') as NonNullable<import('simple-peer').Options['wrtc']>;
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const bounded = <T>(promise: Promise<T>, what: string): Promise<T> =>
    new Promise<T>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`${what} timed out after ${p.connectTimeoutMs} ms`)), p.connectTimeoutMs);
      promise.then(
        (v) => (clearTimeout(t), res(v)),
        (e: unknown) => (clearTimeout(t), rej(e as Error)),
      );
    });

  const relay = await startRelay();
  const server = await createSignalingServer({ port: 0, ...LOOPBACK_CROWD });
  const { Mosquitto } = await import('../test/support/mosquitto.js');
  const broker = await Mosquitto.start();

  /** Only 127.0.0.1 candidates leave or enter, as with our nodes' `loopbackOnly`. */
  const loopbackSignal = (data: SignalData): SignalData | undefined => {
    if ((data.type === 'offer' || data.type === 'answer') && data.sdp) return { type: data.type, sdp: filterSdp(loopbackOnly, data.sdp) };
    if (data.candidate) return acceptsCandidate(loopbackOnly, data.candidate.candidate) ? data : undefined;
    return data;
  };
  const newPeer = (initiator: boolean): Peer => new SimplePeer({ initiator, wrtc, trickle: true, config: { iceServers: [] } });
  const opened = (peer: Peer): Promise<void> =>
    new Promise((res, rej) => {
      peer.once('connect', () => res());
      peer.once('error', rej);
      peer.once('close', () => rej(new Error('closed before connecting')));
    });
  const destroy = (peer: Peer): Promise<void> =>
    new Promise((res) => {
      const cap = setTimeout(res, 1000);
      peer.once('close', () => (clearTimeout(cap), res()));
      peer.on('error', () => {});
      clearTimeout((peer as unknown as { _iceCompleteTimer?: NodeJS.Timeout })._iceCompleteTimer);
      peer.destroy();
    });

  async function bare(): Promise<number> {
    const [sa, sb] = await Promise.all([relayClient(relay.url), relayClient(relay.url)]);
    let a: Peer | undefined;
    let b: Peer | undefined;
    let bOpen: Promise<void> | undefined;
    try {
      sb.on('signal', ({ from, data }: { from: string; data: SignalData }) => {
        if (!b) {
          // The responder is created by the first signal, as a node creates its peer on an offer.
          const peer = (b = newPeer(false));
          bOpen = opened(peer);
          bOpen.catch(() => {});
          peer.on('signal', (d: SignalData) => {
            const out = loopbackSignal(d);
            if (out) sb.emit('signal', { to: from, data: out });
          });
        }
        const inbound = loopbackSignal(data);
        if (inbound) b.signal(inbound);
      });
      sa.on('signal', ({ data }: { data: SignalData }) => {
        const inbound = loopbackSignal(data);
        if (inbound) a?.signal(inbound);
      });
      const t0 = performance.now();
      const peer = (a = newPeer(true));
      peer.on('signal', (d: SignalData) => {
        const out = loopbackSignal(d);
        if (out) sa.emit('signal', { to: sb.id, data: out });
      });
      await bounded(opened(peer), 'bare simple-peer connect');
      const ms = performance.now() - t0;
      // Close only once both sides are open, and from a timer (never inside a wrtc callback).
      await bounded(bOpen ?? Promise.reject(new Error('responder never created')), 'bare responder open');
      return ms;
    } finally {
      await sleep(0);
      await Promise.all([a && destroy(a), b && destroy(b)]);
      sa.disconnect();
      sb.disconnect();
    }
  }

  async function ours(signalingUrl: string, encryption: 'preferred' | 'off'): Promise<number> {
    const [a, b] = [0, 1].map(() => createNode({ signalingUrl, candidateFilter: loopbackOnly, encryption })) as [
      ReturnType<typeof createNode>,
      ReturnType<typeof createNode>,
    ];
    try {
      await Promise.all([a.start(), b.start()]);
      const bOpen = firstValueFrom(b.peerEvents$.pipe(filter((e) => e.type === 'connected' && e.id === a.nodeId)));
      bOpen.catch(() => {});
      const t0 = performance.now();
      await bounded(a.connectToNode(b.nodeId), 'connectToNode');
      const ms = performance.now() - t0;
      await bounded(bOpen, 'responder connected');
      return ms;
    } finally {
      await sleep(0);
      await Promise.all([a.stop(), b.stop()]);
    }
  }

  const measure: Record<Contender, () => Promise<number>> = {
    [BASELINE]: bare,
    [OURS]: () => ours(server.url, 'preferred'),
    [PLAIN]: () => ours(server.url, 'off'),
    [BROKER]: () => ours(broker.url('bench'), 'preferred'),
  };
  for (let i = 0; i < p.warmup + p.connections; i++) {
    for (const contender of CONTENDERS) {
      try {
        const ms = await measure[contender]();
        if (i >= p.warmup) send({ type: 'sample', contender, ms });
      } catch (err) {
        send({ type: 'error', contender, message: (err as Error).message });
      }
      gc();
      await sleep(5);
    }
  }
  await relay.close();
  await server.close();
  await broker.close();
  // A natural exit after pc.close() sometimes segfaults in libwebrtc's finalizers: exit explicitly,
  // once the last message is handed to the parent.
  await new Promise<void>((res) => (process.send ? process.send({ type: 'done' } satisfies ChildMessage, undefined, {}, () => res()) : res()));
  process.exit(0);
}

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  const i = process.argv.indexOf('--child');
  if (i >= 0) {
    await child(JSON.parse(process.argv[i + 1]!) as Plan);
  } else {
    const sections = await run({ smoke: process.argv.includes('--smoke') });
    for (const row of sections.flatMap((s) => s.rows)) {
      const { samples, ...rest } = row;
      console.log(JSON.stringify({ ...rest, sorted: [...samples].sort((a, b) => a - b).map((x) => Math.round(x * 10) / 10) }));
    }
  }
}
