/**
 * Who holds each open link besides the routing table: whether the peer said it does not
 * (`unneeded`), and whether the application at either end uses it (`needed`, or our own).
 *
 * @module
 */

/**
 * @example
 * ```ts
 * const holds = new LinkHolds((id) => appPeers.has(id));
 * holds.opened(peerId, now);
 * if (holds.tellNeeded(peerId)) send(peerId, { t: 'needed' });
 * holds.appHeld(peerId); // true: the DHT never closes it
 * ```
 */
export class LinkHolds {
  /** Peers that said they do not hold the link. */
  readonly #unneededBy = new Set<string>();
  /** Peers whose application uses the link (they sent `needed`). */
  readonly #neededBy = new Set<string>();
  /** Peers we told `needed`: once per link. */
  readonly #toldNeeded = new Set<string>();
  /** Peers we told `unneeded` and have not told otherwise since. */
  readonly #toldUnneeded = new Set<string>();
  readonly #openedAt = new Map<string, number>();

  /** `inUse`: whether our application uses the link to a peer. */
  constructor(private readonly inUse?: (peerId: string) => boolean) {}

  opened(peerId: string, now: number): void {
    this.#openedAt.set(peerId, now);
  }

  closed(peerId: string): void {
    this.#unneededBy.delete(peerId);
    this.#neededBy.delete(peerId);
    this.#toldNeeded.delete(peerId);
    this.#toldUnneeded.delete(peerId);
    this.#openedAt.delete(peerId);
  }

  /** How long the link has been open, ms. */
  age(peerId: string, now: number): number {
    return now - (this.#openedAt.get(peerId) ?? now);
  }

  /** The peer said `unneeded`. */
  peerUnneeded(peerId: string): void {
    this.#unneededBy.add(peerId);
    this.#neededBy.delete(peerId);
  }

  /** The peer said `held`: it holds the link as a contact again. */
  peerHeld(peerId: string): void {
    this.#unneededBy.delete(peerId);
  }

  /** The peer said `needed`. */
  peerNeeded(peerId: string): void {
    this.#unneededBy.delete(peerId);
    this.#neededBy.add(peerId);
  }

  /** Whether the peer said it does not hold the link. */
  unneededByPeer(peerId: string): boolean {
    return this.#unneededBy.has(peerId);
  }

  /** Whether our application uses the link. */
  ours(peerId: string): boolean {
    return this.inUse?.(peerId) === true;
  }

  /** Whether the application at either end uses the link. */
  appHeld(peerId: string): boolean {
    return this.#neededBy.has(peerId) || this.ours(peerId);
  }

  /** Whether any link may be held by an application (else every link counts against the budget). */
  get any(): boolean {
    return this.#neededBy.size > 0 || this.inUse !== undefined;
  }

  /** True once per link, when our application uses it: the time to tell the peer `needed`. */
  tellNeeded(peerId: string): boolean {
    if (this.#toldNeeded.has(peerId) || !this.ours(peerId)) return false;
    this.#toldNeeded.add(peerId);
    this.#toldUnneeded.delete(peerId);
    return true;
  }

  /** We told the peer `unneeded`. */
  toldUnneeded(peerId: string): void {
    this.#toldUnneeded.add(peerId);
  }

  /** True if the peer last heard `unneeded` from us: the time to tell it `held`, now that we hold the link again. */
  retractUnneeded(peerId: string): boolean {
    return this.#toldUnneeded.delete(peerId);
  }
}
