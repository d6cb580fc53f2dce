/** Timers that do not hold a process open, in Node and in the browser alike. */

/**
 * `timer`, unreferenced where the platform can (Node), so a node's housekeeping never keeps a
 * process alive; browsers return plain numbers and have no such notion.
 *
 * @example
 * ```ts
 * const ticker = unref(setInterval(tick, 1000));
 * ```
 */
export function unref<T>(timer: T): T {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}
