/**
 * wrtc releases a closed connection's sockets and threads only after V8 collects its JS object (and
 * then asynchronously, ~2 s later), and closed connections are too small for V8 to hurry: with peers
 * churning, file descriptors pile up until libwebrtc aborts the process (EMFILE). So closes trigger a
 * full collection: batched, at most one a second while connections keep closing, and always one
 * after the last close. `gc` is taken the way jest's leak detector takes it, without exposing it on
 * the global object.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const COLLECT_DELAY_MS = 1000;
const SETTLE_MS = 50;

let gc: (() => void) | undefined;
let scheduled: NodeJS.Timeout | undefined;
let lastCloseAt = 0;

function collector(): () => void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
    setFlagsFromString('--no-expose-gc');
  }
  return gc;
}

function schedule(): void {
  if (scheduled) return;
  scheduled = setTimeout(() => {
    scheduled = undefined;
    collector()();
    if (Date.now() - lastCloseAt < COLLECT_DELAY_MS) schedule();
  }, COLLECT_DELAY_MS);
  scheduled.unref();
}

/**
 * Collects now if connections closed since the last collection. A node calls this when it stops, so
 * that no wrtc object is left for Node's exit-time finalizers, which crashed libwebrtc under load.
 */
export async function collectClosedConnections(): Promise<void> {
  if (!scheduled) return;
  clearTimeout(scheduled);
  scheduled = undefined;
  // The just-closed connections' last references go away with the callbacks still queued.
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  collector()();
}

/** Records that a connection's shutdown finished, so that its native resources get collected. */
export function connectionClosed(): void {
  lastCloseAt = Date.now();
  schedule();
}
