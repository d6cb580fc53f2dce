/** Whether an open connection can be handed to a caller of `connectToNode()` as it is. */
import type { DataPlane } from '../data/dataPlane.js';
import { ESTABLISHED_STATES } from '../machines/peerConnection.machine.js';
import type { PeerBook } from './peerBook.js';

/**
 * Resolves true once `nodeId`'s open connection is connected and heard lately: at once if it is,
 * otherwise when a silent one is heard again or a recovering one (an ICE restart) is connected again;
 * false once it ended, or if there is none.
 *
 * @example
 * ```ts
 * if (await alive(book, dataPlane, id)) return; // else connect anew
 * ```
 */
export async function alive(book: PeerBook, dataPlane: DataPlane, nodeId: string): Promise<boolean> {
  // Each turn waits for the connection to change (heard, reconnected or ended), so the loop ends with it.
  for (;;) {
    const state = book.state(nodeId);
    const link = dataPlane.get(nodeId);
    if (state === undefined || !ESTABLISHED_STATES.has(state) || !link) return false;
    if (state === 'connected' && !link.silent) return true;
    const watch = new AbortController();
    const ended = book.ended(nodeId, watch.signal).then(() => false);
    const back = state === 'recovering' ? book.outcome(nodeId, undefined).then(() => true, () => false) : link.nextHeard().then(() => true);
    const changed = await Promise.race([back, ended]);
    watch.abort();
    if (!changed) return false;
  }
}
