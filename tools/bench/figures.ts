/**
 * The machine-readable side of the benchmark programs: with BENCH_JSON=<file> in the
 * environment, a program writes the figures it printed to that file as one JSON document
 * (FIGURES_FORMAT below) when it finishes. Without it nothing is written. The printed output
 * is the same either way; this only records numbers the program already computes, so
 * `tools/bench/compare.ts` can set the two builds' figures side by side.
 *
 * Invariants: a key names one figure and appears once per document; every value is a finite
 * number (a figure the run could not measure is left out rather than written as NaN).
 */
import { writeFileSync } from 'node:fs';

/** The `format` field of a figures document, and its version. */
export const FIGURES_FORMAT = 'tokusim-bench-figures';
export const FIGURES_VERSION = 1;

/** Which way a figure improves; 'neither' for a figure that is context, not a goal. */
export type Better = 'higher' | 'lower' | 'neither';

export interface Figure {
  /** Stable identifier, e.g. `checkpoint.mbps.window-default`; compare.ts matches on it. */
  key: string;
  /** What a reader sees in the comparison table. */
  label: string;
  unit: string;
  value: number;
  better: Better;
}

export interface FiguresDocument {
  format: typeof FIGURES_FORMAT;
  version: typeof FIGURES_VERSION;
  /** The program's name, e.g. `checkpoint-bench`. */
  bench: string;
  figures: Figure[];
}

/** The figures of one benchmark program's run. */
export class Figures {
  private readonly list: Figure[] = [];
  constructor(private readonly bench: string) {}

  /** Records a figure; a non-finite value (not measured in this run) is skipped. */
  add(key: string, label: string, unit: string, value: number, better: Better): void {
    if (!Number.isFinite(value)) return;
    if (this.list.some((f) => f.key === key)) throw new Error(`${this.bench}: figure ${key} recorded twice`);
    this.list.push({ key, label, unit, value, better });
  }

  document(): FiguresDocument {
    return { format: FIGURES_FORMAT, version: FIGURES_VERSION, bench: this.bench, figures: [...this.list] };
  }

  /** Writes the document to $BENCH_JSON when it is set. */
  writeIfRequested(env: NodeJS.ProcessEnv = process.env): void {
    const path = env['BENCH_JSON'];
    if (path === undefined || path === '') return;
    writeFileSync(path, JSON.stringify(this.document(), null, 1) + '\n');
  }
}
