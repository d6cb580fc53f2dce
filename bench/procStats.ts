/**
 * What the kernel says about a bench process and the loopback: CPU time per process (all threads,
 * and its main JS thread alone) and UDP datagrams dropped because a socket's receive buffer was
 * full. Linux only; elsewhere every reading is NaN.
 *
 * Why drops matter: libwebrtc leaves its UDP sockets at the kernel's default receive buffer
 * (net.core.rmem_default, 208 KiB here), SCTP on loopback bursts past it, and each loss episode
 * sends the connection into a slower recovery mode. Throughput samples are bimodal for every
 * contender because of it, so every sample reports the drops it saw.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

function statMs(path: string): number {
  try {
    const stat = readFileSync(path, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
  } catch {
    return Number.NaN;
  }
}

/** CPU milliseconds used so far by process `pid`: all its threads, and its main (JS) thread. */
export function cpuMs(pid: number): { total: number; main: number } {
  return { total: statMs(`/proc/${pid}/stat`), main: statMs(`/proc/${pid}/task/${pid}/stat`) };
}

/** Resident memory of process `pid`, in bytes (`VmRSS`); NaN where there is no /proc. */
export function rssOf(pid: number): number {
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? Number.NaN : Number(kb) * 1024;
  } catch {
    return Number.NaN;
  }
}

/** UDP datagrams (IPv4 + IPv6) the kernel dropped so far, host-wide, for want of receive-buffer space. */
export function udpDrops(): number {
  try {
    const v4 = /^Udp: (.+)\nUdp: (.+)$/m.exec(readFileSync('/proc/net/snmp', 'utf8'));
    const names = v4?.[1]!.split(' ') ?? [];
    const values = v4?.[2]!.split(' ') ?? [];
    const dropsV4 = Number(values[names.indexOf('RcvbufErrors')]);
    const dropsV6 = Number(/^Udp6RcvbufErrors\s+(\d+)/m.exec(readFileSync('/proc/net/snmp6', 'utf8'))?.[1]);
    return dropsV4 + dropsV6;
  } catch {
    return Number.NaN;
  }
}

/** The receive-buffer sizes (`ss`'s `rb`, bytes) of the UDP sockets `pid` holds, as the kernel reports them. */
export function udpReceiveBuffersOf(pid: number): number[] {
  try {
    const out = execFileSync('ss', ['-uampnH'], { encoding: 'utf8' });
    const sizes: number[] = [];
    // Each socket is a line with its users((…pid=N…)), followed by its skmem:(…rbN…) line.
    const lines = out.split('\n');
    lines.forEach((line, i) => {
      if (!line.includes(`pid=${pid},`)) return;
      const rb = /rb(\d+)/.exec(`${line} ${lines[i + 1] ?? ''}`)?.[1];
      if (rb) sizes.push(Number(rb));
    });
    return sizes;
  } catch {
    return [];
  }
}

