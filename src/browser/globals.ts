/**
 * The Node globals the shared code and simple-peer use, for the browser build: esbuild injects these
 * wherever a bundled file names one (scripts/buildBrowser.ts), so no page global is touched.
 *
 * @module
 */
import { Buffer } from 'buffer';
import process from 'process';

export { Buffer, process };

const queue: (() => void)[] = [];
let channel: InstanceType<typeof MessageChannel> | undefined;

/**
 * Node's `setImmediate`: runs `fn` after the current task and its microtasks, before timers. A
 * MessageChannel message is such a task in every browser, and unlike `setTimeout(fn, 0)` it is not
 * clamped to 4 ms, which would cap the link's end-of-turn flushes.
 */
export function setImmediate(fn: () => void): { cancelled: boolean } {
  const handle = { cancelled: false };
  if (!channel) {
    channel = new MessageChannel();
    channel.port1.addEventListener('message', () => queue.shift()?.());
    channel.port1.start();
  }
  queue.push(() => handle.cancelled || fn());
  channel.port2.postMessage(0);
  return handle;
}

/** Cancels a {@link setImmediate}. */
export function clearImmediate(handle: { cancelled: boolean } | undefined): void {
  if (handle) handle.cancelled = true;
}
