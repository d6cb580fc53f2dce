/**
 * Small statistics helpers shared by every bench section: medians, percentiles and the rows of a
 * section's table (median/min/max and the ratio of each contender's median to the baseline's).
 */
import type { BenchRow } from './types.js';

function sorted(samples: readonly number[]): number[] {
  return samples.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
}

/** Median, min and max of the finite samples (NaN for all three when there are none). */
export function summarize(samples: readonly number[]): { median: number; min: number; max: number } {
  const s = sorted(samples);
  if (s.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

/**
 * The q-quantile (0 ≤ q ≤ 1) of the finite samples, linear interpolation between closest ranks
 * (q = 0.5 equals the median). NaN when there are no samples.
 */
export function percentile(samples: readonly number[], q: number): number {
  const s = sorted(samples);
  if (s.length === 0) return Number.NaN;
  const clamped = Math.min(1, Math.max(0, q));
  const pos = clamped * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** Rounds for display/JSON without losing meaningful digits (3 significant decimals for small values). */
export function round(x: number): number {
  if (!Number.isFinite(x)) return x;
  const abs = Math.abs(x);
  const digits = abs >= 100 ? 1 : abs >= 1 ? 2 : 4;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * One row per contender for `metric`, in the order of `byContender`, each with its median, min, max,
 * samples and the ratio of its median to the baseline contender's median (absent when the baseline
 * has no samples). `notes` adds a note per contender.
 */
export function rows(
  metric: string,
  unit: string,
  byContender: Record<string, number[]>,
  baseline: string,
  notes: Record<string, string> = {},
): BenchRow[] {
  const base = summarize(byContender[baseline] ?? []).median;
  return Object.entries(byContender).map(([contender, samples]) => {
    const { median, min, max } = summarize(samples);
    const row: BenchRow = { metric, contender, unit, median, min, max, samples: [...samples] };
    if (Number.isFinite(base) && base !== 0 && Number.isFinite(median)) {
      row.ratio = median / base;
      row.baseline = baseline;
    }
    const note = notes[contender];
    if (note) row.note = note;
    return row;
  });
}
