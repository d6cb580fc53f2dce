/**
 * What every bench section returns, so `npm run bench` can print one table and write one JSON file.
 * A section measures its contenders alternately in one run (A B A B …), never against stored numbers.
 */
export interface BenchOptions {
  /** A few seconds in all, no thresholds: CI runs it so the benches cannot rot. */
  smoke: boolean;
}

/** One metric of one contender: the samples' median, min and max, and its ratio to the baseline's median. */
export interface BenchRow {
  /** e.g. 'throughput 256 KiB', 'rtt 64 B p50', 'setup p50'. */
  metric: string;
  /** e.g. 'bare wrtc', 'bare simple-peer', 'p2p-dht-node'. */
  contender: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  samples: number[];
  /** This contender's median over the baseline contender's median for the same metric (the baseline itself: 1). */
  ratio?: number;
  /** Which contender `ratio` is against. */
  baseline?: string;
  /** Anything a reader needs: bytes moved, errors, RSS per peer… */
  note?: string;
}

export interface BenchSection {
  name: string;
  rows: BenchRow[];
}
