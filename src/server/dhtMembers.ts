/**
 * The nodes registered here that run the DHT, so that a joining node can be introduced to a few of
 * them. Kept in an array with an index, so that adding, removing and sampling are O(1) per node.
 */
export class DhtMembers {
  readonly #ids: string[] = [];
  readonly #at = new Map<string, number>();

  get size(): number {
    return this.#ids.length;
  }

  add(id: string): void {
    if (this.#at.has(id)) return;
    this.#at.set(id, this.#ids.length);
    this.#ids.push(id);
  }

  delete(id: string): void {
    const at = this.#at.get(id);
    if (at === undefined) return;
    const last = this.#ids.pop()!;
    this.#at.delete(id);
    if (last !== id) {
      this.#ids[at] = last;
      this.#at.set(last, at);
    }
  }

  /**
   * Up to `n` distinct members other than `exclude`, at random.
   *
   * @example
   * ```ts
   * members.add(a); members.add(b);
   * members.sample(8, a); // [b]
   * ```
   */
  sample(n: number, exclude: string): string[] {
    const picked = new Set<string>();
    const available = this.#ids.length - (this.#at.has(exclude) ? 1 : 0);
    // Bounded: 4n draws find n members unless the set is tiny, and then a scan takes them all.
    for (let draw = 0; draw < 4 * n && picked.size < Math.min(n, available); draw++) {
      const id = this.#ids[Math.floor(Math.random() * this.#ids.length)]!;
      if (id !== exclude) picked.add(id);
    }
    if (picked.size < Math.min(n, available)) for (const id of this.#ids) if (id !== exclude && picked.size < n) picked.add(id);
    return [...picked];
  }
}
