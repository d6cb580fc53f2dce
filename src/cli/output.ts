/** What a running node prints on stdout: messages, peer events and tables. */
import { Subscription } from 'rxjs';
import type { DataMessage } from '../data/dataPlane.js';
import { P2PError } from '../errors.js';
import type { P2PNode } from '../node/node.js';
import type { PeerEvent, PeerInfo, Transition } from '../node/types.js';

/** Writes one line of human output. */
export type Print = (line: string) => void;

/** The id prefix the CLI shows; long enough to tell peers apart by eye. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

// C0/C1 controls and bidi overrides: a peer could otherwise move the cursor, recolour the terminal,
// or forge lines such as `* connected …` by embedding a newline.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `[abcd1234] text`, or `[abcd1234] <N bytes>` for binary. */
export function formatMessage({ from, data }: DataMessage): string {
  const body = typeof data === 'string' ? printable(data) : `<${data.byteLength} bytes>`;
  return `[${shortId(from)}] ${body}`;
}

/** `CODE: message` for library errors, `error: message` for anything else. */
export function formatError(err: unknown): string {
  if (err instanceof P2PError) return `${err.code}: ${err.message}`;
  return `error: ${err instanceof Error ? err.message : String(err)}`;
}

/** The `/peers` table, one string per line. */
export function peersTable(peers: PeerInfo[]): string[] {
  if (peers.length === 0) return ['no peers'];
  const rows = [
    ['ID', 'STATE', 'ROUTE', 'LOCAL', 'REMOTE', 'RTT', 'BYTES IN', 'BYTES OUT'],
    ...peers.map((p) => [
      p.id,
      p.state,
      p.route ?? '-',
      p.localAddress ?? '-',
      p.remoteAddress ?? '-',
      p.rttMs === undefined ? '-' : `${Math.round(p.rttMs)} ms`,
      String(p.bytesIn),
      String(p.bytesOut),
    ]),
  ];
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  return rows.map((row) => row.map((cell, col) => cell.padEnd(widths[col]!)).join('  ').trimEnd());
}

/**
 * `* connected <id8> (route)`, `* recovering <id8> (what stalled)`, `* reconnecting <id8> in 1.2 s
 * (attempt 2)`, and `* closed <id8>` with the reason when it was not a normal close.
 */
function peerLine(event: PeerEvent): string {
  if (event.type === 'connected') return `* connected ${shortId(event.id)} (${event.route?.route ?? 'unknown route'})`;
  if (event.type === 'recovering') return `* recovering ${shortId(event.id)} (${printable(event.detail ?? 'stalled')}; restarting ICE)`;
  if (event.type === 'reconnecting') return `* reconnecting ${shortId(event.id)} in ${(event.delayMs / 1000).toFixed(1)} s (attempt ${event.attempt})`;
  if (event.wasConnected && event.reason === 'closed') return `* closed ${shortId(event.id)}`;
  const detail = event.detail ? `: ${printable(event.detail)}` : '';
  return `* ${event.wasConnected ? 'closed' : 'failed'} ${shortId(event.id)} (${event.reason}${detail})`;
}

/** Tells a headless operator when the signaling server comes and goes; peers are unaffected. */
function signalingEvents(print: Print): (t: Transition) => void {
  return ({ actor, from, to }) => {
    if (actor !== 'node') return;
    if (to === 'running.offline') print('* signaling server lost; reconnecting');
    else if (to === 'running.online' && from === 'running.offline') print('* signaling server reconnected');
    else if (to === 'running.signalingFailed' && from !== 'running.connecting') {
      print('! signaling failed; connected peers stay up but no new connections can be made');
    }
  };
}

/** Prints everything a node reports until the subscription is ended or the node stops. */
export function watchNode(node: P2PNode, print: Print): Subscription {
  const subscription = new Subscription();
  subscription.add(node.data$.subscribe((message) => print(formatMessage(message))));
  subscription.add(node.peerEvents$.subscribe((event) => print(peerLine(event))));
  subscription.add(node.transitions$.subscribe(signalingEvents(print)));
  return subscription;
}

const lookupSamples = new WeakMap<P2PNode, { at: number; lookups: number }>();

/** The `/dht` summary, one string per line; lookups/s counts since the previous `/dht` (or the start). */
export function dhtSummary(node: P2PNode): string[] {
  const info = node.dhtInfo();
  if (!info) return ['no DHT: start the node with --dht or --join'];
  const now = Date.now();
  const last = lookupSamples.get(node) ?? { at: now, lookups: 0 };
  lookupSamples.set(node, { at: now, lookups: info.lookups });
  const rate = now > last.at ? ((info.lookups - last.lookups) * 1000) / (now - last.at) : 0;
  const { topics, announcements, mutable } = info.stored;
  return [
    `dht: ${info.state}${info.refreshing ? ' (refreshing)' : ''}, ${info.contacts} contacts, ${info.links} connections`,
    `buckets: ${info.buckets.map((b) => `${b.index}:${b.contacts}`).join(' ') || 'none'}`,
    `lookups: ${info.lookups} (${rate.toFixed(1)}/s), requests handled ${info.requests}, forwarded ${info.forwarded}, signals sent again ${info.signalsResent}`,
    `stored for others: ${announcements} announcements under ${topics} topics, ${mutable} records`,
    `joined: ${info.topics.map(printable).join(', ') || 'no topics'}`,
  ];
}

/** A record `/get` found: its value as text, made printable (another node wrote it). */
export function formatRecord(key: string, value: Uint8Array, seq: number): string {
  return `* ${printable(key)} = ${printable(Buffer.from(value).toString('utf8'))} (seq ${seq})`;
}
