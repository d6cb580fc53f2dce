/**
 * One-way latencies between simulated nodes: six regions with WAN delays between them, a last-mile
 * delay per node (log-normal, median 5 ms) and per-message jitter (exponential, mean 2 ms). Median
 * round trip between random nodes comes out near 150 ms, as in measured internet datasets (King).
 */
import type { SeededRandom } from './random.js';

/** One-way ms between regions: North America east and west, Europe, East Asia, South Asia, South America. */
const REGION_MS = [
  [8, 35, 45, 90, 110, 60],
  [35, 8, 75, 65, 110, 90],
  [45, 75, 8, 120, 60, 100],
  [90, 65, 120, 8, 50, 150],
  [110, 110, 60, 50, 10, 160],
  [60, 90, 100, 150, 160, 10],
];
/** Share of nodes per region. */
const REGION_WEIGHTS = [0.2, 0.15, 0.25, 0.25, 0.1, 0.05];

export interface Place {
  region: number;
  accessMs: number;
}

/** Where a new node sits. */
export function place(random: SeededRandom): Place {
  let roll = random.next();
  let region = 0;
  while (region < REGION_WEIGHTS.length - 1 && roll >= REGION_WEIGHTS[region]!) roll -= REGION_WEIGHTS[region++]!;
  return { region, accessMs: Math.min(random.logNormal(5, 0.8), 80) };
}

/** One-way delay of one message from `a` to `b`. */
export function oneWay(a: Place, b: Place, random: SeededRandom): number {
  return REGION_MS[a.region]![b.region]! + a.accessMs + b.accessMs + random.exponential(2);
}
