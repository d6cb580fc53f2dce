/** The console's view of file transfers: progress lines with rate and ETA, offers, and `/files`. */
import { Subscription } from 'rxjs';
import type { TransferProgress } from '../files/types.js';
import type { P2PNode } from '../node/node.js';
import { shortId, type Print } from './output.js';

/** At most one progress line per transfer this often; the first and the last always print. */
const PROGRESS_EVERY_MS = 1000;
const BAR_WIDTH = 20;

/** Every transfer this console has seen, newest step of each, for `/files`. */
export type TransferLog = Map<string, TransferProgress>;

/**
 * Prints the node's transfers as they go: a progress bar with bytes, rate and ETA at most once a
 * second, and how each ended. Offers are declined with a hint when the node has no download folder.
 */
export function watchTransfers(node: P2PNode, print: Print, log: TransferLog, accepting: boolean): Subscription {
  const subscription = new Subscription();
  const lastPrinted = new Map<string, number>();
  const started = new Map<string, { at: number; bytes: number }>();
  subscription.add(
    node.transfers$.subscribe((step) => {
      const key = `${step.direction}:${step.id}`;
      log.set(key, step);
      if (!started.has(key)) started.set(key, { at: step.at, bytes: step.bytes });
      // A failed send is printed by `/send`, which also sees the failures that come before any step.
      if (step.state === 'failed' && step.direction === 'out') return;
      if (step.state === 'active' && step.at - (lastPrinted.get(key) ?? 0) < PROGRESS_EVERY_MS && step.bytes < step.size) return;
      lastPrinted.set(key, step.at);
      print(transferLine(step, started.get(key)!));
    }),
  );
  if (!accepting) {
    subscription.add(
      node.files$.subscribe((offer) => {
        print(`* ${shortId(offer.from)} offered ${offer.name} (${bytes(offer.size)}); declined: start with --accept-files DIR to take files`);
        offer.decline();
      }),
    );
  }
  return subscription;
}

/** One transfer as a console line: `> name to a1b2c3d4 [#####.....] 12.0 MB / 50.0 MB, 35.2 MB/s, ETA 1 s`. */
export function transferLine(step: TransferProgress, start: { at: number; bytes: number }): string {
  const way = step.direction === 'out' ? `> ${step.name} to` : `< ${step.name} from`;
  const who = `${way} ${shortId(step.peer)}`;
  if (step.state === 'offered') return `* ${who}: offered (${bytes(step.size)}), waiting for an answer`;
  if (step.state === 'failed') return `! ${who}: ${step.error ? `${step.error.code}: ${step.error.message}` : 'failed'}`;
  const seconds = Math.max(step.at - start.at, 1) / 1000;
  const rate = (step.bytes - start.bytes) / seconds;
  if (step.state === 'done') {
    const where = step.path ? ` → ${step.path}` : '';
    return `* ${who}: done, ${bytes(step.size)} verified (SHA-256) in ${seconds.toFixed(1)} s, ${bytes(rate)}/s${where}`;
  }
  const filled = step.size === 0 ? BAR_WIDTH : Math.round((step.bytes / step.size) * BAR_WIDTH);
  const eta = rate > 0 ? `, ETA ${Math.ceil((step.size - step.bytes) / rate)} s` : '';
  const resumed = step.startedAt > 0 ? ` (resumed at ${bytes(step.startedAt)})` : '';
  return `  ${who} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${bytes(step.bytes)} / ${bytes(step.size)}, ${bytes(rate)}/s${eta}${resumed}`;
}

/** `/files`: every transfer of this run, newest last. */
export function filesTable(log: TransferLog): string[] {
  if (log.size === 0) return ['* no file transfers yet'];
  return [...log.values()].map((s) => `  ${shortId(s.id)} ${s.direction === 'out' ? 'sent to    ' : 'received from'} ${shortId(s.peer)}  ${s.state.padEnd(7)} ${bytes(s.bytes)} / ${bytes(s.size)}  ${s.name}${s.path ? ` → ${s.path}` : ''}`);
}

/** Bytes for people: B, KB, MB, GB (powers of 1000, one decimal). */
export function bytes(count: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = count;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}
