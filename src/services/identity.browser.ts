/** The browser build's `identity.ts`: a tab has no files; it keeps its key with `loadBrowserIdentity()` (IndexedDB). */
import { P2PError } from '../errors.js';
import type { Identity } from '../wire/keys.js';

const NO_FILES = 'a browser has no identity files: pass identity (from loadBrowserIdentity()) instead of identityFile';

/** Throws ERR_IDENTITY: see {@link NO_FILES}. */
export function defaultIdentityPath(): string {
  throw new P2PError('ERR_IDENTITY', NO_FILES);
}

/** Throws ERR_IDENTITY: see {@link NO_FILES}. */
export function loadOrCreateIdentity(_path: string): Identity {
  throw new P2PError('ERR_IDENTITY', NO_FILES);
}
