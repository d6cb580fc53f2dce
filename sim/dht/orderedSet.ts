/**
 * A set that keeps its items in an array ordered by a key, so that a random pick costs O(1) instead
 * of copying the set: the simulator picks random nodes on every join, lookup and lie, and copying
 * 10,000 nodes each time cost more than the simulation itself.
 */
export class OrderedSet<T> implements Iterable<T> {
  /** The items, by ascending key. Read only: change them through {@link add} and {@link delete}. */
  readonly items: T[] = [];
  readonly #keys: number[] = [];
  readonly #keyOf = new Map<T, number>();

  get size(): number {
    return this.items.length;
  }

  has(item: T): boolean {
    return this.#keyOf.has(item);
  }

  /** Adds `item` under `key` (after any equal key); false if it was there already. */
  add(item: T, key: number): boolean {
    if (this.#keyOf.has(item)) return false;
    const at = this.#upperBound(key);
    this.items.splice(at, 0, item);
    this.#keys.splice(at, 0, key);
    this.#keyOf.set(item, key);
    return true;
  }

  delete(item: T): boolean {
    const at = this.indexOf(item);
    if (at < 0) return false;
    this.items.splice(at, 1);
    this.#keys.splice(at, 1);
    this.#keyOf.delete(item);
    return true;
  }

  /** The position of `item` in {@link items}, or -1. */
  indexOf(item: T): number {
    const key = this.#keyOf.get(item);
    if (key === undefined) return -1;
    // Keys may repeat: search from the first equal key for the item itself.
    let at = this.#lowerBound(key);
    while (this.items[at] !== item) at++;
    return at;
  }

  [Symbol.iterator](): Iterator<T> {
    return this.items[Symbol.iterator]();
  }

  #lowerBound(key: number): number {
    let lo = 0;
    let hi = this.#keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#keys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #upperBound(key: number): number {
    let lo = 0;
    let hi = this.#keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#keys[mid]! <= key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
