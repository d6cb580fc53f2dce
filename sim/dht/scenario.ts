/**
 * The three simulated scenarios of the DHT, and what they measure: lookup success, hops, time and
 * messages per lookup, and whether topic lookups find every announcer.
 */
import { generateIdentity } from '../../src/wire/identity.js';
import type { LookupResult } from '../../src/dht/lookup.js';
import { signTopicRecord, topicKey } from '../../src/dht/records.js';
import { Network } from './network.js';

export type ScenarioName = 'steady' | 'churn' | 'adversarial';

export interface ScenarioOptions {
  nodes: number;
  scenario: ScenarioName;
  seed?: number;
  /** Node lookups measured. */
  lookups?: number;
  /** Topic lookups measured (5 announcers under each of 10 topics). */
  topicLookups?: number;
}

export interface ScenarioReport {
  nodes: number;
  scenario: ScenarioName;
  lookups: number;
  /** Share of lookups whose result held the closest live honest node to the target. */
  success: number;
  hopsP50: number;
  hopsP99: number;
  timeP50Ms: number;
  timeP99Ms: number;
  messagesPerLookup: number;
  /** Share of topic lookups that found every announcer. */
  topicSuccess: number;
  /** Mean contacts per node at the end. */
  contacts: number;
  /** Simulated seconds and events run. */
  simulatedS: number;
  events: number;
}

const JOIN_SPACING_MS = 10;
/**
 * The measured window. It needs room for 1,000 lookups and, under churn, for 20% of the nodes to
 * leave and as many to join; every simulated second of it also costs the whole network's upkeep,
 * which at 10,000 nodes is most of a run. A minute holds both (churn at twice the rate of two
 * minutes: a harder test, not an easier one).
 */
const MEASURE_MS = 60_000;
/**
 * From the last join to the window: lookups start on average as long after the last join (2 min
 * 10 s) as they did with a 60 s settle before a 120 s window, so they meet a network as settled.
 */
const SETTLE_MS = 90_000;
/**
 * After the window, until the last lookups end: a lookup ends within two timeouts (6 s), or
 * settles within twice the time its first plausible reply took (≤ 12 s more).
 */
const DRAIN_MS = 20_000;

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Runs one scenario to the end and reports it. Deterministic for a given seed. */
export function runScenario(options: ScenarioOptions): ScenarioReport {
  const { nodes, scenario, seed = 1, lookups = 1000, topicLookups = 200 } = options;
  const net = new Network({ seed });
  const { clock, random } = net;
  // Build: one node every 50 ms; under attack, one in ten misbehaves from the start.
  for (let i = 0; i < nodes; i++) {
    const behaviour = scenario === 'adversarial' && i > 0 && random.next() < 0.1 ? (random.next() < 0.5 ? 'drop' : 'lie') : 'honest';
    clock.at(i * JOIN_SPACING_MS, () => net.add(behaviour));
  }
  clock.runUntil(nodes * JOIN_SPACING_MS + SETTLE_MS);

  // Announcements: 10 topics, 5 announcers each, made before lookups begin.
  const topics = Array.from({ length: 10 }, (_, i) => topicKey(`sim/topic-${i}`));
  const announcers = new Map<string, Set<string>>();
  for (const topic of topics) {
    const keys = new Set<string>();
    for (let j = 0; j < 5; j++) {
      const identity = generateIdentity();
      keys.add(identity.publicKey);
      const from = random.pick(net.joined.items);
      from.dht.request('announce', topic, { topic: signTopicRecord(identity, topic, clock.now(), 30 * 60_000) }, () => {});
    }
    announcers.set(topic, keys);
  }
  clock.runUntil(clock.now() + 10_000);

  const start = clock.now();
  const hops: number[] = [];
  const times: number[] = [];
  const messages: number[] = [];
  let found = 0;
  let topicFound = 0;
  const sources = () => net.joined.items;
  for (let i = 0; i < lookups; i++) {
    clock.at(random.next() * MEASURE_MS, () => {
      const from = random.pick(sources());
      const target = Buffer.from(random.bytes(32)).toString('hex');
      const startedAt = clock.now();
      from.dht.request('find', target, {}, (result: LookupResult) => {
        const truth = net.closestHonest(target);
        if (truth && result.closest.includes(truth.id)) found++;
        if (result.replies > 0) hops.push(result.hopsToClosest);
        times.push(clock.now() - startedAt);
        messages.push(net.traffic.get(result.rid) ?? 0);
        net.traffic.delete(result.rid);
      });
    });
  }
  for (let i = 0; i < topicLookups; i++) {
    clock.at(random.next() * MEASURE_MS, () => {
      const topic = random.pick(topics);
      random.pick(sources()).dht.request('find-topic', topic, {}, (result) => {
        const keys = announcers.get(topic)!;
        if ([...keys].every((key) => result.topics.some((r) => r.key === key))) topicFound++;
      });
    });
  }
  if (scenario === 'churn') churn(net, nodes);
  net.countTraffic = true;
  clock.runUntil(start + MEASURE_MS + DRAIN_MS);

  const live = [...net.nodes.values()].filter((n) => n.alive);
  return {
    nodes,
    scenario,
    lookups,
    success: found / lookups,
    hopsP50: percentile(hops, 50),
    hopsP99: percentile(hops, 99),
    timeP50Ms: Math.round(percentile(times, 50)),
    timeP99Ms: Math.round(percentile(times, 99)),
    messagesPerLookup: messages.reduce((a, b) => a + b, 0) / Math.max(1, messages.length),
    topicSuccess: topicFound / topicLookups,
    contacts: live.reduce((sum, n) => sum + n.dht.table.size, 0) / live.length,
    simulatedS: Math.round(clock.now() / 1000),
    events: clock.ran,
  };
}

/** 20% of the nodes leave (killed) and as many join, at random times over the measured period. */
function churn(net: Network, nodes: number): void {
  const leaving = Math.round(nodes * 0.2);
  for (let i = 0; i < leaving; i++) {
    net.clock.at(net.random.next() * MEASURE_MS, () => {
      net.kill(net.random.pick(net.alive.items));
    });
    net.clock.at(net.random.next() * MEASURE_MS, () => net.add('honest'));
  }
}
