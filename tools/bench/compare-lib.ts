/**
 * The pure parts of `tools/bench/compare.ts`: its arguments, the base ref's validation, the
 * figures documents' parsing, and the summary table (median and min–max per side, head/base
 * ratio of the medians). Nothing here times, spawns a benchmark or touches the disk, except
 * resolveBaseRef, which asks git.
 *
 * Invariants: a summary is computed from at least one value; a ratio is head median / base
 * median and is shown as '-' when the base median is 0; figures appear in the order the
 * programs first reported them.
 */
import { spawnSync } from 'node:child_process';
import { FIGURES_FORMAT, FIGURES_VERSION, type Better, type Figure, type FiguresDocument } from './figures.js';

/** One benchmark program run of the comparison: which program, with which environment. */
export interface Job {
  name: JobName;
  /** Compiled program under dist/tools/bench/. */
  script: string;
  /** BENCH_SCALE at --scale 1 (so one round of both sides takes a fraction of a minute). */
  baseScale: number;
  /** Further environment (BENCH_ONLY, run counts). */
  env: Record<string, string>;
}

export const JOB_NAMES = ['printer', 'checkpoint', 'durable', 'recovery'] as const;
export type JobName = (typeof JOB_NAMES)[number];

/**
 * The programs compared and how each is cut down to fit a run of a few minutes. Figures and
 * their meaning are the programs' own; only the amount of work changes.
 */
export const JOBS: readonly Job[] = [
  { name: 'printer', script: 'logprint-bench.js', baseScale: 0.1, env: { BENCH_RUNS: '2' } },
  // One latency round; the 4 MiB throughput run is left out (BENCH_NODE_KB set).
  { name: 'checkpoint', script: 'checkpoint-bench.js', baseScale: 0.1, env: { BENCH_ROUNDS: '1', BENCH_NODE_KB: '256' } },
  { name: 'durable', script: 'engine-bench.js', baseScale: 0.2, env: { BENCH_ONLY: 'durable', BENCH_WARMUP: '1000' } },
  { name: 'recovery', script: 'engine-bench.js', baseScale: 0.2, env: { BENCH_ONLY: 'recovery' } },
];

export interface CompareOptions {
  base: string;
  rounds: number;
  scale: number;
  only: JobName[];
  /** Leave the temporary directory in place (to look at the builds and logs). */
  keep: boolean;
}

export const DEFAULT_ROUNDS = 5;

/** A usage mistake: the message says what was wrong and what is accepted. */
export class CompareUsageError extends Error {
  override name = 'CompareUsageError';
}

export const USAGE =
  'usage: node dist/tools/bench/compare.js --base <git ref> [--rounds N (default 5)] [--scale X (default $BENCH_SCALE or 1)] ' +
  `[--only ${JOB_NAMES.join(',')}] [--keep]`;

/** Parses compare.ts's arguments; scale defaults to BENCH_SCALE from env, else 1. */
export function parseCompareArgs(argv: readonly string[], env: Record<string, string | undefined> = {}): CompareOptions {
  let base: string | undefined;
  let rounds = DEFAULT_ROUNDS;
  let scale: number | undefined;
  let only: JobName[] = [...JOB_NAMES];
  let keep = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new CompareUsageError(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--base':
        base = value();
        break;
      case '--rounds':
        rounds = parsePositive(flag, value(), true);
        break;
      case '--scale':
        scale = parsePositive(flag, value(), false);
        break;
      case '--only':
        only = parseOnly(value());
        break;
      case '--keep':
        if (inline !== undefined) throw new CompareUsageError(`--keep takes no value (got '${inline}')\n${USAGE}`);
        keep = true;
        break;
      default:
        throw new CompareUsageError(`unknown argument '${arg}'\n${USAGE}`);
    }
  }
  if (base === undefined || base === '') throw new CompareUsageError(`--base is required (e.g. --base main, or make bench-compare BASE=main)\n${USAGE}`);
  checkRefSyntax(base);
  if (scale === undefined) {
    const fromEnv = env['BENCH_SCALE'];
    scale = fromEnv === undefined || fromEnv === '' ? 1 : parsePositive('BENCH_SCALE', fromEnv, false);
  }
  return { base, rounds, scale, only, keep };
}

function parsePositive(what: string, text: string, integer: boolean): number {
  const x = Number(text);
  if (text.trim() === '' || !Number.isFinite(x) || x <= 0 || (integer && !Number.isInteger(x))) {
    throw new CompareUsageError(`${what} must be a positive ${integer ? 'integer' : 'number'}, got '${text}'`);
  }
  return x;
}

function parseOnly(text: string): JobName[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new CompareUsageError(`--only needs at least one of ${JOB_NAMES.join(', ')}`);
  for (const n of names) {
    if (!(JOB_NAMES as readonly string[]).includes(n)) throw new CompareUsageError(`--only: unknown benchmark '${n}' (known: ${JOB_NAMES.join(', ')})`);
  }
  // In the fixed order of JOBS, each once.
  return JOB_NAMES.filter((n) => names.includes(n));
}

/**
 * Rejects what git would read as an option or what no ref name can contain, before git sees
 * it: a leading '-', whitespace or control characters.
 */
export function checkRefSyntax(ref: string): void {
  if (ref.startsWith('-')) throw new CompareUsageError(`bad base ref '${ref}': a ref cannot start with '-'`);
  if (/[\s\u0000-\u001f\u007f]/.test(ref)) throw new CompareUsageError(`bad base ref ${JSON.stringify(ref)}: a ref cannot contain whitespace or control characters`);
}

/** The commit BASE names in the repository at repoDir, as 40 hex digits; a clear error when git does not know it. */
export function resolveBaseRef(repoDir: string, ref: string): string {
  checkRefSyntax(ref);
  const r = spawnSync('git', ['-C', repoDir, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`], { encoding: 'utf8' });
  if (r.error !== undefined) throw new CompareUsageError(`cannot run git to resolve base ref '${ref}': ${r.error.message}`);
  const sha = r.stdout.trim();
  if (r.status !== 0 || !/^[0-9a-f]{40}$/.test(sha)) {
    throw new CompareUsageError(`bad base ref '${ref}': no commit of that name in the repository at ${repoDir} (try a branch, tag or commit, e.g. main or HEAD~1)`);
  }
  return sha;
}

/** Parses one figures document (BENCH_JSON output); `source` names the file in errors. */
export function parseFiguresDocument(text: string, source: string): FiguresDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not JSON (${(e as Error).message})`);
  }
  const o = doc as Partial<FiguresDocument> | null;
  if (o === null || typeof o !== 'object') throw new Error(`${source}: expected a JSON object, got ${JSON.stringify(doc)}`);
  if (o.format !== FIGURES_FORMAT) throw new Error(`${source}: format is ${JSON.stringify(o.format)}, expected "${FIGURES_FORMAT}"`);
  if (o.version !== FIGURES_VERSION) throw new Error(`${source}: version ${JSON.stringify(o.version)}, expected ${FIGURES_VERSION}`);
  if (typeof o.bench !== 'string' || !Array.isArray(o.figures)) throw new Error(`${source}: expected "bench" (string) and "figures" (array)`);
  o.figures.forEach((f: Partial<Figure>, i) => {
    const ok =
      typeof f.key === 'string' &&
      typeof f.label === 'string' &&
      typeof f.unit === 'string' &&
      typeof f.value === 'number' &&
      Number.isFinite(f.value) &&
      (f.better === 'higher' || f.better === 'lower' || f.better === 'neither');
    if (!ok) throw new Error(`${source}: figures[${i}] is not {key, label, unit, value (finite number), better}: ${JSON.stringify(f)}`);
  });
  return o as FiguresDocument;
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** Median (mean of the two middle values for an even count), min and max. */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new Error('summarize: no values');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, n: s.length };
}

/** A figure with three significant digits, without exponent notation for ordinary sizes. */
export function formatValue(x: number): string {
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  const digits = Math.max(0, 2 - Math.floor(Math.log10(a)));
  return x.toFixed(Math.min(digits, 6));
}

/** `median [min–max]`. */
export function formatSummary(s: Summary): string {
  return `${formatValue(s.median)} [${formatValue(s.min)}–${formatValue(s.max)}]`;
}

/** head median / base median with two decimals, or '-' when the base median is 0. */
export function formatRatio(head: Summary, base: Summary): string {
  if (base.median === 0) return '-';
  return `${(head.median / base.median).toFixed(2)}x`;
}

/** All values of one figure, per side, across rounds. */
export interface FigureSeries {
  key: string;
  label: string;
  unit: string;
  better: Better;
  base: number[];
  head: number[];
}

/** Gathers figures from documents, keyed by figure key, in first-seen order. */
export class FigureCollector {
  private readonly series = new Map<string, FigureSeries>();

  add(side: 'base' | 'head', doc: FiguresDocument): void {
    for (const f of doc.figures) {
      let s = this.series.get(f.key);
      if (s === undefined) {
        s = { key: f.key, label: f.label, unit: f.unit, better: f.better, base: [], head: [] };
        this.series.set(f.key, s);
      }
      s[side].push(f.value);
    }
  }

  all(): FigureSeries[] {
    return [...this.series.values()];
  }
}

/**
 * The comparison table: per figure, base and head as median [min–max], the head/base ratio of
 * the medians, which way is better, and whether the two min–max ranges overlap (a coarse
 * sign of "within noise", not a statistical test). A figure one side never reported shows
 * 'missing' there.
 */
export function formatTable(series: readonly FigureSeries[]): string {
  const header = ['figure', 'unit', 'base median [min–max]', 'head median [min–max]', 'head/base', 'better', 'ranges'];
  const rows = series.map((s) => {
    const b = s.base.length > 0 ? summarize(s.base) : undefined;
    const h = s.head.length > 0 ? summarize(s.head) : undefined;
    const overlap = b !== undefined && h !== undefined ? (b.min <= h.max && h.min <= b.max ? 'overlap' : 'apart') : '-';
    return [
      s.label,
      s.unit,
      b === undefined ? 'missing' : `${formatSummary(b)} (${b.n})`,
      h === undefined ? 'missing' : `${formatSummary(h)} (${h.n})`,
      b !== undefined && h !== undefined ? formatRatio(h, b) : '-',
      s.better,
      overlap,
    ];
  });
  const widths = header.map((_, i) => Math.max(header[i]!.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 || i === 1 || i >= 5 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
