/**
 * The browser build's `inspection.ts`: the inspector page is an HTTP server and the Stately stream a
 * WebSocket client of Node's, so a tab runs neither; it can read its own actors from `transitions$`.
 */
import { P2PError } from '../errors.js';
import type { InspectOptions } from './options.js';

/** Nothing a tab can start. */
export interface Inspectors {
  page?: never;
  stately?: never;
}

/** Resolves with no inspectors; rejects ERR_INVALID_OPTION if `options` asks for one. */
export async function startInspectors(options: InspectOptions): Promise<Inspectors> {
  if (options.port !== undefined || options.stately) throw new P2PError('ERR_INVALID_OPTION', 'inspect is not available in the browser build; subscribe to node.transitions$ instead');
  return {};
}
