/**
 * The signaling server's counters and their Prometheus text exposition (format 0.0.4), written by hand
 * so the server needs no metrics library. docs/protocol.md section 10 lists the series.
 */
import type { HandshakeRefusalCode, ServerErrorCode } from '../wire/protocol.js';

/**
 * Why the server refused something: the error code an event was answered with (or would have been,
 * had it asked for an ack), `ERR_REGISTER_TIMEOUT` for a connection dropped unregistered, or a refused
 * handshake.
 */
export type RejectReason = ServerErrorCode | HandshakeRefusalCode;

/** What `SignalingServer.metrics()` returns: the numbers `GET /metrics` serves. */
export interface SignalingMetrics {
  /** Names this server among several (the `server` label); option `serverId`, default `hostname:port`. */
  readonly server: string;
  /** Socket.IO connections open now, registered or not. */
  readonly connectedSockets: number;
  /** Node ids registered now. */
  readonly registeredNodes: number;
  /** Successful registrations since the server started. */
  readonly registrationsTotal: number;
  /** Envelopes delivered to their target since the server started. */
  readonly relayedSignalsTotal: number;
  /** Refusals since the server started, by reason; every reason is present, most at 0. */
  readonly rejectedTotal: Readonly<Record<RejectReason, number>>;
  /** The whole process's resident set size, in bytes. */
  readonly residentMemoryBytes: number;
}

/** The counters the server bumps as it works; gauges are read from its state when a snapshot is taken. */
export class ServerCounters {
  registrations = 0;
  relayedSignals = 0;
  /** A Record literal, so the compiler insists on every reason and each has a series from the start. */
  readonly rejected: Record<RejectReason, number> = {
    ERR_BAD_REQUEST: 0,
    ERR_AUTH: 0,
    ERR_NOT_REGISTERED: 0,
    ERR_ALREADY_REGISTERED: 0,
    ERR_UNKNOWN_PEER: 0,
    ERR_RATE_LIMITED: 0,
    ERR_REGISTER_TIMEOUT: 0,
    ERR_UNKNOWN_EVENT: 0,
    ERR_CLUSTER_UNAVAILABLE: 0,
    ERR_TOO_MANY_CONNECTIONS: 0,
    ERR_HANDSHAKE_RATE_LIMITED: 0,
  };
}

/** The `content-type` of {@link exposition}'s text. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

interface Family {
  name: string;
  type: 'counter' | 'gauge';
  /** Written as is: these texts hold no backslash or line feed, the two characters HELP escapes. */
  help: string;
  samples: { labels?: Record<string, string>; value: number }[];
}

/** `metrics` as Prometheus text exposition, every sample labelled with `server`. */
export function exposition(metrics: SignalingMetrics): string {
  const families: Family[] = [
    gauge('p2p_signaling_connected_sockets', 'Socket.IO connections open now, registered or not.', metrics.connectedSockets),
    gauge('p2p_signaling_registered_nodes', 'Node ids registered now.', metrics.registeredNodes),
    counter('p2p_signaling_registrations_total', 'Successful registrations.', metrics.registrationsTotal),
    counter('p2p_signaling_relayed_signals_total', 'Envelopes delivered to their target.', metrics.relayedSignalsTotal),
    {
      name: 'p2p_signaling_rejected_total',
      type: 'counter',
      help: 'Refused events (by the error code answered), registration timeouts and refused handshakes.',
      samples: Object.entries(metrics.rejectedTotal).map(([reason, value]) => ({ labels: { reason }, value })),
    },
    gauge('p2p_signaling_process_resident_memory_bytes', 'Resident set size of the server process.', metrics.residentMemoryBytes),
  ];
  const server = { server: metrics.server };
  return families
    .flatMap(({ name, type, help, samples }) => [
      `# HELP ${name} ${help}`,
      `# TYPE ${name} ${type}`,
      ...samples.map(({ labels, value }) => `${name}${labelSet({ ...server, ...labels })} ${value}`),
    ])
    .map((line) => `${line}\n`)
    .join('');
}

function gauge(name: string, help: string, value: number): Family {
  return { name, type: 'gauge', help, samples: [{ value }] };
}

function counter(name: string, help: string, value: number): Family {
  return { name, type: 'counter', help, samples: [{ value }] };
}

function labelSet(labels: Record<string, string>): string {
  return `{${Object.entries(labels)
    .map(([name, value]) => `${name}="${escapeLabelValue(value)}"`)
    .join(',')}}`;
}

/** Label values escape backslash, double quote and line feed (exposition format 0.0.4). */
function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}
