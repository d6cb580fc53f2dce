/** The keyspace and the routing table: pure functions over 256-bit keys. */
import { describe, expect, it } from 'vitest';
import { KEY_BITS, commonPrefixLength, compareDistance, keyBytes, keyHex, keyInBucket } from '../src/dht/keyspace.js';
import { Links } from '../src/dht/links.js';
import { RoutingTable, subnetOf, type Contact } from '../src/dht/routingTable.js';
import { SeenRequests, wasTried } from '../src/dht/seen.js';

const hex = (firstByte: number, rest = 0) => firstByte.toString(16).padStart(2, '0') + rest.toString(16).padStart(2, '0').repeat(31);
const contact = (id: string, address?: string): Contact => ({ id, key: keyBytes(id), address });

/** The plain scans `Links` must agree with: up to `n` contacts, closest to `target` first. */
function closestContacts(contacts: Iterable<Contact>, target: Uint8Array, n: number, skip?: (id: string) => boolean): Contact[] {
  const found: Contact[] = [];
  for (const c of contacts) {
    if (skip?.(c.id)) continue;
    let at = found.length;
    while (at > 0 && compareDistance(c.key, found[at - 1]!.key, target) < 0) at--;
    if (at < n) {
      found.splice(at, 0, c);
      if (found.length > n) found.pop();
    }
  }
  return found;
}

/** The closest contact that is closer to `target` than `self` and not skipped. */
function nextHop(self: Uint8Array, contacts: Iterable<Contact>, target: Uint8Array, skip?: (id: string) => boolean): Contact | undefined {
  let best: Contact | undefined;
  for (const c of contacts) {
    if (compareDistance(c.key, self, target) >= 0 || skip?.(c.id)) continue;
    if (!best || compareDistance(c.key, best.key, target) < 0) best = c;
  }
  return best;
}
/** A deterministic id in bucket `bucket` of `self` (the n-th such id). */
const idIn = (self: string, bucket: number, n: number) => keyHex(keyInBucket(keyBytes(self), bucket, keyBytes(hex(n, n))));

describe('the keyspace', () => {
  it('measures shared prefixes bit by bit', () => {
    expect(commonPrefixLength(keyBytes(hex(0x80)), keyBytes(hex(0)))).toBe(0);
    expect(commonPrefixLength(keyBytes(hex(0x01)), keyBytes(hex(0)))).toBe(7);
    expect(commonPrefixLength(keyBytes(hex(0, 1)), keyBytes(hex(0)))).toBe(15);
    expect(commonPrefixLength(keyBytes(hex(7, 7)), keyBytes(hex(7, 7)))).toBe(KEY_BITS);
  });

  it('orders by XOR distance, not by numeric distance', () => {
    const target = keyBytes(hex(0b1000_0000));
    // 0x7f is numerically next to 0x80 but differs in every bit of the first byte.
    expect(compareDistance(keyBytes(hex(0xff)), keyBytes(hex(0x7f)), target)).toBeLessThan(0);
    expect(compareDistance(keyBytes(hex(0x81)), keyBytes(hex(0x81)), target)).toBe(0);
  });

  it('makes keys that fall in exactly the bucket asked for', () => {
    const self = keyBytes(hex(0x5a, 0xc3));
    for (const bucket of [0, 1, 7, 8, 9, 100, 255]) {
      for (const fill of [0x00, 0xff, 0x3c]) {
        expect(commonPrefixLength(self, keyInBucket(self, bucket, keyBytes(hex(fill, fill))))).toBe(bucket);
      }
    }
    expect(() => keyInBucket(self, 256, self)).toThrow(RangeError);
  });
});

describe('the routing table', () => {
  const self = hex(0);

  it('files contacts by shared prefix and refuses itself and duplicates', () => {
    const table = new RoutingTable(self, { k: 2 });
    expect(table.add(contact(self))).toEqual({ added: false, reason: 'self' });
    expect(table.add(contact(hex(0x80)))).toEqual({ added: true });
    expect(table.add(contact(hex(0x80)))).toEqual({ added: false, reason: 'known' });
    expect(table.add(contact(hex(0x01)))).toEqual({ added: true });
    expect(table.buckets()).toEqual([
      { index: 0, contacts: 1 },
      { index: 7, contacts: 1 },
    ]);
    expect(table.depth).toBe(7);
    expect(table.remove(hex(0x01))).toBe(true);
    expect(table.remove(hex(0x01))).toBe(false);
    expect(table.depth).toBe(0);
  });

  it('holds k contacts per bucket', () => {
    const table = new RoutingTable(self, { k: 2 });
    expect(table.add(contact(idIn(self, 3, 1))).added).toBe(true);
    expect(table.add(contact(idIn(self, 3, 2))).added).toBe(true);
    expect(table.add(contact(idIn(self, 3, 3)))).toEqual({ added: false, reason: 'bucket-full' });
  });

  it('under its budget, lets a thin bucket take a place from the fullest one', () => {
    const table = new RoutingTable(self, { k: 4, maxContacts: 4 });
    for (let n = 1; n <= 3; n++) table.add(contact(idIn(self, 0, n)));
    table.add(contact(idIn(self, 5, 1)));
    // Full: bucket 0 holds 3, bucket 9 holds none, so the newest of bucket 0 goes.
    expect(table.add(contact(idIn(self, 9, 1)))).toEqual({ added: true, evicted: contact(idIn(self, 0, 3)) });
    expect(table.size).toBe(4);
    // Now buckets hold 2, 1, 1: a third contact for bucket 5 would not make the table more even.
    expect(table.add(contact(idIn(self, 5, 2)))).toEqual({ added: false, reason: 'table-full' });
  });

  it('takes at most perSubnet contacts of one public /24 per bucket, and ignores private addresses', () => {
    const table = new RoutingTable(self, { k: 8, perSubnet: 2 });
    expect(table.add(contact(idIn(self, 0, 1), '203.0.113.5')).added).toBe(true);
    expect(table.add(contact(idIn(self, 0, 2), '203.0.113.9')).added).toBe(true);
    expect(table.add(contact(idIn(self, 0, 3), '203.0.113.77'))).toEqual({ added: false, reason: 'subnet' });
    expect(table.add(contact(idIn(self, 0, 4), '198.51.100.1')).added).toBe(true);
    for (let n = 5; n < 9; n++) expect(table.add(contact(idIn(self, 0, n), '127.0.0.1')).added).toBe(true);
    expect(subnetOf('10.1.2.3')).toBeUndefined();
    expect(subnetOf('192.168.1.1')).toBeUndefined();
    expect(subnetOf('fe80::1')).toBeUndefined();
    expect(subnetOf('2001:db8:1:2::5')).toBe('2001:db8:1');
    expect(subnetOf('198.51.100.7')).toBe('198.51.100');
  });

  it('finds the closest contacts and the next hop toward a key', () => {
    const contacts = new Links();
    for (const b of [0x10, 0x20, 0x30, 0xf0]) contacts.set(hex(b), contact(hex(b)));
    const target = keyBytes(hex(0x31));
    expect(contacts.closest(target, 2).map((c) => c.id)).toEqual([hex(0x30), hex(0x20)]);
    expect(contacts.closest(target, 2, (id) => id === hex(0x30)).map((c) => c.id)).toEqual([hex(0x20), hex(0x10)]);
    // From 0x00 toward 0x31 the best step is 0x30; from 0x30 itself nothing is closer.
    expect(contacts.nextHop(keyBytes(hex(0)), target)?.id).toBe(hex(0x30));
    expect(contacts.nextHop(keyBytes(hex(0x30)), target)).toBeUndefined();
    expect(contacts.nextHop(keyBytes(hex(0)), target, (id) => id === hex(0x30))?.id).toBe(hex(0x20));
  });
});

describe('the links a node routes over', () => {
  /** Keys from a fixed LCG; every other one shares its first four bytes with the one before. */
  function keys(n: number): string[] {
    let state = 12345;
    const byte = () => ((state = (state * 1103515245 + 12345) >>> 0) >>> 24).toString(16).padStart(2, '0');
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(i % 2 === 1 ? out[i - 1]!.slice(0, 8) + Array.from({ length: 28 }, byte).join('') : Array.from({ length: 32 }, byte).join(''));
    return out;
  }

  it('pick the same next hop and closest links as nextHop and closestContacts, through ties and removals', () => {
    const ids = keys(160);
    const links = new Links();
    for (const id of ids.slice(0, 120)) links.set(id, contact(id));
    for (const id of ids.slice(0, 120).filter((_, i) => i % 7 === 3)) links.delete(id);
    expect([...links.keys()]).toEqual(ids.slice(0, 120).filter((_, i) => i % 7 !== 3));
    const all = [...links.values()];
    const skip = (id: string) => id.endsWith('0');
    // Targets and selves among the links' own keys and beside them, so that the first bytes tie.
    for (const target of ids.map(keyBytes)) {
      for (const self of [keyBytes(ids[0]!), keyBytes(ids[1]!), target]) {
        expect(links.nextHop(self, target)).toBe(nextHop(self, all, target));
        expect(links.nextHop(self, target, skip)).toBe(nextHop(self, all, target, skip));
      }
      expect(links.closest(target, 8)).toEqual(closestContacts(all, target, 8));
      expect(links.closest(target, 8, skip)).toEqual(closestContacts(all, target, 8, skip));
    }
  });
});

describe('the requests a node has seen', () => {
  it('holds an id at least half its time, with the next hops it was sent to', () => {
    let now = 0;
    const seen = new SeenRequests(4, 1000, () => now);
    expect(seen.sight('a')).toBeUndefined();
    seen.addTried('a', 'x');
    expect(wasTried(seen.sight('a'), 'x')).toBe(true);
    seen.addTried('a', 'y');
    expect([...seen.tried('a')]).toEqual(['x', 'y']);
    now = 499;
    seen.sight('b');
    now = 500; // a rotation: 'a' and 'b' are older now, and still held
    seen.addTried('c', 'x');
    expect(wasTried(seen.sight('a'), 'y')).toBe(true);
    now = 1000; // the next one forgets them
    seen.sight('d');
    expect(seen.size).toBe(2);
    expect(seen.sight('a')).toBeUndefined();
    // Past the limit the oldest goes first: 'c', then 'd'.
    expect(wasTried(seen.sight('c'), 'x')).toBe(true);
    for (const rid of ['e', 'f', 'g']) seen.sight(rid);
    expect(seen.size).toBe(4);
    expect(wasTried(seen.sight('c'), 'x')).toBe(false);
  });
});
