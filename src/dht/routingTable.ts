/**
 * The routing table of a connectionful Kademlia: every contact is a node we hold an authenticated
 * connection to, so the table is also the node's connection budget. Contacts sit in k-buckets by the
 * length of the prefix their id shares with ours.
 *
 * @module
 */
import { KEY_BITS, commonPrefixLength, keyBytes } from './keyspace.js';

/** A node we hold a connection to. */
export interface Contact {
  readonly id: string;
  readonly key: Uint8Array;
  /** The IP address the connection runs to, when known; bounds contacts per subnet. */
  readonly address?: string;
}

export interface RoutingTableOptions {
  /** Contacts per bucket (Kademlia's k). Default 8. */
  k?: number;
  /** Contacts in all, i.e. connections the DHT keeps open. Default 64. */
  maxContacts?: number;
  /** Contacts per bucket from one public /24 (IPv4) or /48 (IPv6). Default 2. */
  perSubnet?: number;
}

export const DEFAULT_TABLE: Required<RoutingTableOptions> = { k: 8, maxContacts: 64, perSubnet: 2 };

/** What {@link RoutingTable.add} did with a contact. */
export type AddOutcome =
  | { added: true; evicted?: Contact }
  | { added: false; reason: 'self' | 'known' | 'bucket-full' | 'subnet' | 'table-full' };

/**
 * The subnet an address counts against, or undefined for addresses that say nothing about who runs
 * the node (loopback, private, link-local, unique-local): many honest nodes share those.
 */
export function subnetOf(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/.exec(address);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    const local = a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254);
    return local ? undefined : `${v4[1]}.${v4[2]}.${v4[3]}`;
  }
  const v6 = address.toLowerCase();
  if (!v6.includes(':') || v6 === '::1' || /^(fe[89ab]|f[cd])/.test(v6)) return undefined;
  return v6.split(':').slice(0, 3).join(':');
}

/**
 * k-buckets of connected contacts under a global budget. When the budget is spent, a contact for a
 * thin bucket displaces the newest contact of the fullest one: lookups need every bucket covered more
 * than they need any bucket deep, and long-lived contacts are the likeliest to stay.
 *
 * @example
 * ```ts
 * const table = new RoutingTable(myId, { k: 8, maxContacts: 64 });
 * const outcome = table.add({ id, key: keyBytes(id) });
 * if (outcome.added && outcome.evicted) disconnect(outcome.evicted.id);
 * ```
 */
export class RoutingTable {
  readonly selfId: string;
  readonly selfKey: Uint8Array;
  readonly options: Required<RoutingTableOptions>;
  /** Allocated on first use: a table has a few dozen non-empty buckets of 256, and a simulation 10,000 tables. */
  readonly #buckets: (Contact[] | undefined)[] = new Array(KEY_BITS);
  readonly #byId = new Map<string, Contact>();
  /** Indexes of the non-empty buckets, so that scans skip the ~240 empty ones. */
  readonly #used = new Set<number>();
  /** The deepest of {@link #used} (0 when empty), kept up to date: routing reads it on every hop. */
  #depth = 0;

  constructor(selfId: string, options: RoutingTableOptions = {}) {
    this.selfId = selfId;
    // A plain Uint8Array, as keyOf gives, so that distance comparisons see one array type.
    this.selfKey = Uint8Array.from(keyBytes(selfId));
    this.options = { ...DEFAULT_TABLE, ...options };
  }

  get size(): number {
    return this.#byId.size;
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  get(id: string): Contact | undefined {
    return this.#byId.get(id);
  }

  /** The bucket a key belongs in. */
  bucketOf(key: Uint8Array): number {
    return Math.min(commonPrefixLength(this.selfKey, key), KEY_BITS - 1);
  }

  /** What {@link add} would do, without doing it. */
  consider(contact: Contact): AddOutcome {
    if (contact.id === this.selfId) return { added: false, reason: 'self' };
    if (this.#byId.has(contact.id)) return { added: false, reason: 'known' };
    const bucket = this.#buckets[this.bucketOf(contact.key)] ?? [];
    if (bucket.length >= this.options.k) return { added: false, reason: 'bucket-full' };
    const subnet = subnetOf(contact.address);
    if (subnet !== undefined && bucket.filter((c) => subnetOf(c.address) === subnet).length >= this.options.perSubnet) {
      return { added: false, reason: 'subnet' };
    }
    if (this.#byId.size < this.options.maxContacts) return { added: true };
    const fullest = this.#fullestBucket();
    if (fullest && fullest.length > bucket.length + 1) return { added: true, evicted: fullest[fullest.length - 1]! };
    return { added: false, reason: 'table-full' };
  }

  /** Adds a contact if it fits (see {@link consider}); the caller disconnects an evicted contact. */
  add(contact: Contact): AddOutcome {
    const outcome = this.consider(contact);
    if (!outcome.added) return outcome;
    if (outcome.evicted) this.remove(outcome.evicted.id);
    const index = this.bucketOf(contact.key);
    (this.#buckets[index] ??= []).push(contact);
    this.#used.add(index);
    if (index > this.#depth) this.#depth = index;
    this.#byId.set(contact.id, contact);
    return outcome;
  }

  /** Removes a contact (its connection ended); false if it was not in the table. */
  remove(id: string): boolean {
    const contact = this.#byId.get(id);
    if (!contact) return false;
    this.#byId.delete(id);
    const index = this.bucketOf(contact.key);
    const bucket = this.#buckets[index]!;
    bucket.splice(bucket.indexOf(contact), 1);
    if (bucket.length === 0) {
      this.#used.delete(index);
      if (index === this.#depth) {
        this.#depth = 0;
        for (const used of this.#used) if (used > this.#depth) this.#depth = used;
      }
    }
    return true;
  }

  #fullestBucket(): Contact[] | undefined {
    let fullest: { index: number; bucket: Contact[] } | undefined;
    // Ties go to the shallowest bucket: it covers the most keyspace, so one contact less costs least.
    for (const index of this.#used) {
      const bucket = this.#buckets[index]!;
      if (!fullest || bucket.length > fullest.bucket.length || (bucket.length === fullest.bucket.length && index < fullest.index)) fullest = { index, bucket };
    }
    return fullest?.bucket;
  }

  /** Contacts per non-empty bucket, deepest last. */
  buckets(): Array<{ index: number; contacts: number }> {
    return [...this.#used].sort((a, b) => a - b).map((index) => ({ index, contacts: this.#buckets[index]!.length }));
  }

  /** The index of the deepest non-empty bucket (0 when empty): about log2 of the network's size. */
  get depth(): number {
    return this.#depth;
  }

  /** Every contact. */
  contacts(): Contact[] {
    return [...this.#byId.values()];
  }
}
