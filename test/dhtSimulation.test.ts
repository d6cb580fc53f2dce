/**
 * The DHT engine at small scale in the seeded simulator (same code as on WebRTC, in-memory links):
 * each scenario of issue 14's proof, with 300 nodes. `npm run sim:dht` runs 1,000 and 10,000.
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../sim/dht/scenario.js';

const NODES = 300;

describe('the DHT in the simulator (300 nodes)', () => {
  it('steady state: lookups find the closest node, and topic lookups every announcer', () => {
    const report = runScenario({ nodes: NODES, scenario: 'steady', lookups: 400, topicLookups: 100 });
    expect(report.success).toBeGreaterThanOrEqual(0.995);
    // Topic lookups have no target of their own; 100 of them over 10 topics, each announced once.
    expect(report.topicSuccess).toBeGreaterThanOrEqual(0.97);
    expect(report.hopsP99).toBeLessThanOrEqual(Math.ceil(Math.log2(NODES) / 2));
    // The connection budget holds.
    expect(report.contacts).toBeLessThanOrEqual(64);
  });

  it('20% of the nodes leave and 20% join while lookups run', () => {
    const report = runScenario({ nodes: NODES, scenario: 'churn', lookups: 400, topicLookups: 100 });
    expect(report.success).toBeGreaterThanOrEqual(0.99);
    expect(report.topicSuccess).toBeGreaterThanOrEqual(0.95);
  });

  it('10% of the nodes drop routed requests or answer with wrong contacts', () => {
    const report = runScenario({ nodes: NODES, scenario: 'adversarial', lookups: 400, topicLookups: 100 });
    expect(report.success).toBeGreaterThanOrEqual(0.95);
    // Known weakness, measured: an announcement whose topic key's closest node drops requests reaches
    // no honest holder (every path ends at that node), so about one topic in ten loses announcers.
    expect(report.topicSuccess).toBeGreaterThanOrEqual(0.85);
  });

  it('is reproduced exactly by its seed', () => {
    const a = runScenario({ nodes: 100, scenario: 'churn', lookups: 100, topicLookups: 20, seed: 7 });
    const b = runScenario({ nodes: 100, scenario: 'churn', lookups: 100, topicLookups: 20, seed: 7 });
    expect(a).toEqual(b);
  });
});
