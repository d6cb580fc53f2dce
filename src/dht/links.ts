/**
 * A node's open links, with their keys packed side by side for the scans routing makes on every
 * request that passes.
 *
 * @module
 */
import { KEY_BYTES } from './keyspace.js';
import type { Contact } from './routingTable.js';

/** Orders the key at `a` in `keys` and the key `b` by XOR distance to `target`, as `compareDistance` does. */
function compareWith(keys: Uint8Array, a: number, b: Uint8Array, target: Uint8Array): number {
  for (let i = 0; i < KEY_BYTES; i++) {
    const da = keys[a + i]! ^ target[i]!;
    const db = b[i]! ^ target[i]!;
    if (da !== db) return da - db;
  }
  return 0;
}

/**
 * The first four bytes of the key at `at`, big-endian. XOR distances to a target compare as these
 * numbers XOR the target's until two tie, which among a node's links is all but unheard of: a scan
 * reads four bytes a link instead of following the loop above.
 */
function head(key: Uint8Array, at: number): number {
  return ((key[at]! << 24) | (key[at + 1]! << 16) | (key[at + 2]! << 8) | key[at + 3]!) >>> 0;
}

/** Orders the keys at `a` and `b` in `keys` by XOR distance to `target`. */
function compareAt(keys: Uint8Array, a: number, b: number, target: Uint8Array): number {
  for (let i = 0; i < KEY_BYTES; i++) {
    const da = keys[a + i]! ^ target[i]!;
    const db = keys[b + i]! ^ target[i]!;
    if (da !== db) return da - db;
  }
  return 0;
}

/**
 * Open links by peer id, in the order they opened (as a Map keeps them), and the same links in
 * slots whose keys sit in one array. A hop compares the target against every link; read from
 * one block of memory that costs a fraction of following each contact to its key.
 *
 * @example
 * ```ts
 * const links = new Links();
 * links.set(id, { id, key: keyOf(id) });
 * const next = links.nextHop(selfKey, targetKey, (id) => path.includes(id));
 * ```
 */
export class Links {
  readonly #byId = new Map<string, Contact>();
  readonly #slotOf = new Map<string, number>();
  /** Contacts by slot; a link that closes leaves its slot to the last one. */
  readonly #slots: Contact[] = [];
  #keys = new Uint8Array(KEY_BYTES * 16);
  /** {@link head} of each slot's key. */
  #heads = new Uint32Array(16);

  get size(): number {
    return this.#byId.size;
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  get(id: string): Contact | undefined {
    return this.#byId.get(id);
  }

  /** Ids in the order their links opened. */
  keys(): IterableIterator<string> {
    return this.#byId.keys();
  }

  /** Contacts in the order their links opened. */
  values(): IterableIterator<Contact> {
    return this.#byId.values();
  }

  set(id: string, contact: Contact): this {
    this.#byId.set(id, contact);
    let slot = this.#slotOf.get(id);
    if (slot === undefined) {
      slot = this.#slots.length;
      if (slot === this.#heads.length) {
        const keys = new Uint8Array(this.#keys.length * 2);
        const heads = new Uint32Array(this.#heads.length * 2);
        keys.set(this.#keys);
        heads.set(this.#heads);
        this.#keys = keys;
        this.#heads = heads;
      }
      this.#slotOf.set(id, slot);
    }
    this.#slots[slot] = contact;
    this.#keys.fill(0, slot * KEY_BYTES, (slot + 1) * KEY_BYTES);
    this.#keys.set(contact.key.subarray(0, KEY_BYTES), slot * KEY_BYTES);
    this.#heads[slot] = head(this.#keys, slot * KEY_BYTES);
    return this;
  }

  delete(id: string): boolean {
    const slot = this.#slotOf.get(id);
    if (slot === undefined) return false;
    this.#byId.delete(id);
    this.#slotOf.delete(id);
    const last = this.#slots.pop()!;
    if (last.id !== id) {
      this.#slots[slot] = last;
      this.#slotOf.set(last.id, slot);
      this.#keys.copyWithin(slot * KEY_BYTES, this.#slots.length * KEY_BYTES, (this.#slots.length + 1) * KEY_BYTES);
      this.#heads[slot] = this.#heads[this.#slots.length]!;
    }
    return true;
  }

  /**
   * Where to forward a query for `target` from the node `self`: the link closest to `target` that is
   * closer than `self` and not skipped (a unique answer, as no two links share a key, so the slots'
   * order does not matter). Undefined means `self` is the closest node it knows: the query ends there.
   */
  nextHop(self: Uint8Array, target: Uint8Array, skip?: (id: string) => boolean): Contact | undefined {
    const keys = this.#keys;
    const heads = this.#heads;
    const t = head(target, 0);
    const selfDistance = (head(self, 0) ^ t) >>> 0;
    let best = -1;
    let bestDistance = 0;
    for (let slot = 0, at = 0; slot < this.#slots.length; slot++, at += KEY_BYTES) {
      // Distances first, the skip test last: most links lose on distance, and skip tests are dearer.
      const distance = (heads[slot]! ^ t) >>> 0;
      if (distance > selfDistance || (distance === selfDistance && compareWith(keys, at, self, target) >= 0)) continue;
      if (best >= 0 && (distance > bestDistance || (distance === bestDistance && compareAt(keys, at, best * KEY_BYTES, target) >= 0))) continue;
      if (skip?.(this.#slots[slot]!.id)) continue;
      best = slot;
      bestDistance = distance;
    }
    return best < 0 ? undefined : this.#slots[best];
  }

  /** Up to `n` links, closest to `target` first, skipping those `skip` names. */
  closest(target: Uint8Array, n: number, skip?: (id: string) => boolean): Contact[] {
    const keys = this.#keys;
    const heads = this.#heads;
    const t = head(target, 0);
    const found: number[] = [];
    const distances: number[] = [];
    for (let slot = 0, at = 0; slot < this.#slots.length; slot++, at += KEY_BYTES) {
      const distance = (heads[slot]! ^ t) >>> 0;
      let place = found.length;
      while (place > 0) {
        const other = distances[place - 1]!;
        if (distance > other || (distance === other && compareAt(keys, at, found[place - 1]! * KEY_BYTES, target) >= 0)) break;
        place--;
      }
      if (place >= n || skip?.(this.#slots[slot]!.id)) continue;
      found.splice(place, 0, slot);
      distances.splice(place, 0, distance);
      if (found.length > n) {
        found.pop();
        distances.pop();
      }
    }
    return found.map((slot) => this.#slots[slot]!);
  }
}
