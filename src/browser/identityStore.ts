/**
 * A tab's identity, kept in IndexedDB so that a reload (or a new tab of the same origin) is the same
 * node. The Ed25519 seed is stored as raw bytes, readable by the origin's scripts only: signing is
 * synchronous here (see wire/crypto.browser.ts), and WebCrypto's non-extractable keys sign only
 * asynchronously.
 *
 * @module
 */
import { P2PError } from '../errors.js';
import { generateIdentity, identityFromSeed } from '../wire/identity.js';
import type { Identity } from '../wire/keys.js';

const DATABASE = 'p2p-dht-node';
const STORE = 'identities';

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openDatabase(): Promise<IDBDatabase> {
  const req = indexedDB.open(DATABASE, 1);
  req.onupgradeneeded = () => req.result.createObjectStore(STORE);
  return request(req);
}

/**
 * The identity saved under `name` in this origin's IndexedDB, created and saved on first use. Two
 * tabs starting at once get the same one: only the first write is kept, and both read it back.
 *
 * @example
 * ```ts
 * const node = createNode({ signalingUrl: location.origin, identity: await loadBrowserIdentity() });
 * ```
 */
export async function loadBrowserIdentity(name = 'default'): Promise<Identity> {
  if (typeof name !== 'string' || name === '') throw new P2PError('ERR_IDENTITY', 'an identity name is a non-empty string');
  let db: IDBDatabase;
  try {
    db = await openDatabase();
  } catch (cause) {
    throw new P2PError('ERR_IDENTITY', `IndexedDB is not available: ${(cause as Error)?.message ?? cause}`, { cause });
  }
  try {
    const saved = await request(db.transaction(STORE).objectStore(STORE).get(name));
    if (saved instanceof Uint8Array) return identityFromSeed(saved);
    const fresh = generateIdentity();
    const write = db.transaction(STORE, 'readwrite').objectStore(STORE);
    // add(), not put(): a tab that got there first keeps its key.
    await request(write.add(fresh.seed(), name)).catch(() => undefined);
    const kept = await request(db.transaction(STORE).objectStore(STORE).get(name));
    return kept instanceof Uint8Array ? identityFromSeed(kept) : fresh;
  } finally {
    db.close();
  }
}

/** Identities one origin hands out to its tabs before giving up. */
const MAX_TAB_IDENTITIES = 16;

/** Where a tab without Web Locks keeps the name of its identity: sessionStorage lives as long as the tab, reloads included. */
const TAB_NAME_KEY = `${DATABASE}/identity-name`;

/**
 * The identity of this tab: the origin's `default` one unless another open tab holds it, then
 * `tab-2`, `tab-3`…, each held (a Web Lock) until the tab closes. So a reload gets its own id back,
 * and two tabs of one browser are two nodes rather than one id registered twice (which the server
 * settles by dropping the older session). Web Locks exist in secure contexts only (https, or
 * http://localhost); a page loaded over plain http from another machine keeps the name in its
 * sessionStorage instead (`default` for its first tab), so a reload still keeps the id but two such
 * tabs opened at once may share one.
 *
 * @example
 * ```ts
 * const { name, identity } = await leaseBrowserIdentity();
 * ```
 */
export async function leaseBrowserIdentity(): Promise<{ name: string; identity: Identity }> {
  if (typeof navigator === 'undefined' || !navigator.locks) {
    const name = sessionStorage.getItem(TAB_NAME_KEY) ?? 'default';
    sessionStorage.setItem(TAB_NAME_KEY, name);
    return { name, identity: await loadBrowserIdentity(name) };
  }
  for (let n = 1; n <= MAX_TAB_IDENTITIES; n++) {
    const name = n === 1 ? 'default' : `tab-${n}`;
    const held = await new Promise<boolean>((resolve) => {
      void navigator.locks.request(`${DATABASE}/${name}`, { ifAvailable: true }, (lock) => {
        resolve(lock !== null);
        // Held until the tab goes away.
        return lock ? new Promise<void>(() => {}) : undefined;
      });
    });
    if (held) return { name, identity: await loadBrowserIdentity(name) };
  }
  throw new P2PError('ERR_IDENTITY', `${MAX_TAB_IDENTITIES} tabs of this origin already run a node`);
}

/** Forgets the identity saved under `name`: the next {@link loadBrowserIdentity} makes a new node id. */
export async function forgetBrowserIdentity(name = 'default'): Promise<void> {
  const db = await openDatabase();
  try {
    await request(db.transaction(STORE, 'readwrite').objectStore(STORE).delete(name));
  } finally {
    db.close();
  }
}
