import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CompareUsageError,
  DEFAULT_ROUNDS,
  FigureCollector,
  JOB_NAMES,
  formatRatio,
  formatSummary,
  formatTable,
  formatValue,
  parseCompareArgs,
  parseFiguresDocument,
  resolveBaseRef,
  summarize,
} from '../../tools/bench/compare-lib.js';
import { FIGURES_FORMAT, FIGURES_VERSION, Figures } from '../../tools/bench/figures.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

function usageError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CompareUsageError);
    return (e as Error).message;
  }
  throw new Error('expected a CompareUsageError');
}

describe('bench-compare: summaries and formatting', () => {
  it('summarize gives the median (odd and even counts), min and max, whatever the order', () => {
    expect(summarize([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5, n: 3 });
    expect(summarize([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4, n: 4 });
    expect(summarize([7])).toEqual({ median: 7, min: 7, max: 7, n: 1 });
    expect(() => summarize([])).toThrow(/no values/);
  });

  it('values print with three significant digits, large ones as integers', () => {
    expect(formatValue(0)).toBe('0');
    expect(formatValue(391.54)).toBe('392');
    expect(formatValue(12.345)).toBe('12.3');
    expect(formatValue(0.0261)).toBe('0.0261');
    expect(formatValue(1.5)).toBe('1.50');
    expect(formatValue(14103.4)).toBe('14103');
    expect(formatSummary(summarize([10, 12, 11]))).toBe('11.0 [10.0–12.0]');
  });

  it('the ratio is head median over base median, and "-" when the base median is 0', () => {
    expect(formatRatio(summarize([110, 90, 100]), summarize([50, 50, 60]))).toBe('2.00x');
    expect(formatRatio(summarize([1]), summarize([3]))).toBe('0.33x');
    expect(formatRatio(summarize([1]), summarize([0]))).toBe('-');
  });

  it('the table shows both sides per figure, the ratio, and whether the ranges overlap', () => {
    const c = new FigureCollector();
    const doc = (values: [number, number]) => {
      const f = new Figures('x-bench');
      f.add('a.mbps', 'throughput a', 'MB/s', values[0], 'higher');
      f.add('b.ms', 'latency b', 'ms', values[1], 'lower');
      return f.document();
    };
    c.add('base', doc([100, 1]));
    c.add('head', doc([98, 5]));
    c.add('base', doc([104, 1.2]));
    c.add('head', doc([101, 6]));
    c.add('base', doc([102, 1.1]));
    c.add('head', doc([99, 7]));
    const lines = formatTable(c.all()).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^figure\s+unit\s+base median \[min–max\]\s+head median \[min–max\]\s+head\/base\s+better\s+ranges$/);
    expect(lines[2]).toMatch(/^throughput a\s+MB\/s\s+102 \[100–104\] \(3\)\s+99\.0 \[98\.0–101\] \(3\)\s+0\.97x\s+higher\s+overlap$/);
    expect(lines[3]).toMatch(/^latency b\s+ms\s+1\.10 \[1\.00–1\.20\] \(3\)\s+6\.00 \[5\.00–7\.00\] \(3\)\s+5\.45x\s+lower\s+apart$/);
  });

  it('a figure one side never reported shows as missing', () => {
    const c = new FigureCollector();
    const f = new Figures('x-bench');
    f.add('only.base', 'only in base', 'x', 2, 'neither');
    c.add('base', f.document());
    const row = formatTable(c.all()).split('\n')[2]!;
    expect(row).toMatch(/^only in base\s+x\s+2\.00 \[2\.00–2\.00\] \(1\)\s+missing\s+-\s+neither\s+-$/);
  });
});

describe('bench-compare: figures documents', () => {
  it('Figures skips values that were not measured and refuses a key twice', () => {
    const f = new Figures('y-bench');
    f.add('k', 'k', 'ms', Number.NaN, 'lower');
    f.add('k', 'k', 'ms', 3, 'lower');
    expect(f.document()).toEqual({ format: FIGURES_FORMAT, version: FIGURES_VERSION, bench: 'y-bench', figures: [{ key: 'k', label: 'k', unit: 'ms', value: 3, better: 'lower' }] });
    expect(() => f.add('k', 'k', 'ms', 4, 'lower')).toThrow(/y-bench: figure k recorded twice/);
  });

  it('a document round-trips through JSON, and a malformed one names the file and what is wrong', () => {
    const f = new Figures('z-bench');
    f.add('a', 'A', 'MB/s', 1.5, 'higher');
    expect(parseFiguresDocument(JSON.stringify(f.document()), 'z.json')).toEqual(f.document());
    expect(() => parseFiguresDocument('{', 'z.json')).toThrow(/^z\.json: not JSON/);
    expect(() => parseFiguresDocument('{"format":"other","version":1}', 'z.json')).toThrow(`z.json: format is "other", expected "${FIGURES_FORMAT}"`);
    expect(() => parseFiguresDocument(JSON.stringify({ ...f.document(), version: 9 }), 'z.json')).toThrow(`z.json: version 9, expected ${FIGURES_VERSION}`);
    const bad = { ...f.document(), figures: [{ key: 'a', label: 'A', unit: 'MB/s', value: 'fast', better: 'higher' }] };
    expect(() => parseFiguresDocument(JSON.stringify(bad), 'z.json')).toThrow(/^z\.json: figures\[0\] is not \{key, label, unit, value \(finite number\), better\}/);
  });
});

describe('bench-compare: arguments', () => {
  it('defaults: every program, 5 rounds, scale from BENCH_SCALE or 1', () => {
    expect(parseCompareArgs(['--base', 'main'])).toEqual({ base: 'main', rounds: DEFAULT_ROUNDS, scale: 1, only: [...JOB_NAMES], keep: false });
    expect(DEFAULT_ROUNDS).toBeGreaterThanOrEqual(5);
    expect(parseCompareArgs(['--base=main~1'], { BENCH_SCALE: '0.5' }).scale).toBe(0.5);
    expect(parseCompareArgs(['--base', 'v1', '--scale', '2', '--rounds=7', '--only', 'recovery,printer', '--keep'], { BENCH_SCALE: '0.5' })).toEqual({
      base: 'v1',
      rounds: 7,
      scale: 2,
      only: ['printer', 'recovery'],
      keep: true,
    });
  });

  it('refuses a missing base, bad numbers, unknown programs and unknown flags, each with a clear message', () => {
    expect(usageError(() => parseCompareArgs([]))).toMatch(/^--base is required/);
    expect(usageError(() => parseCompareArgs(['--base']))).toMatch(/^--base needs a value/);
    expect(usageError(() => parseCompareArgs(['--base', 'main', '--rounds', '0']))).toBe("--rounds must be a positive integer, got '0'");
    expect(usageError(() => parseCompareArgs(['--base', 'main', '--rounds', '2.5']))).toBe("--rounds must be a positive integer, got '2.5'");
    expect(usageError(() => parseCompareArgs(['--base', 'main', '--scale', 'fast']))).toBe("--scale must be a positive number, got 'fast'");
    expect(usageError(() => parseCompareArgs(['--base', 'main'], { BENCH_SCALE: '-1' }))).toBe("BENCH_SCALE must be a positive number, got '-1'");
    expect(usageError(() => parseCompareArgs(['--base', 'main', '--only', 'printer,cursor']))).toBe("--only: unknown benchmark 'cursor' (known: printer, checkpoint, durable, recovery)");
    expect(usageError(() => parseCompareArgs(['--base', 'main', '--fast']))).toMatch(/^unknown argument '--fast'\nusage: /);
    expect(usageError(() => parseCompareArgs(['--base', 'main', '--keep=yes']))).toMatch(/^--keep takes no value/);
  });

  it('refuses a ref git would read as an option, or one with whitespace, before asking git', () => {
    expect(usageError(() => parseCompareArgs(['--base', '--output=/tmp/x']))).toBe("bad base ref '--output=/tmp/x': a ref cannot start with '-'");
    expect(usageError(() => parseCompareArgs(['--base', 'main sneaky']))).toBe('bad base ref "main sneaky": a ref cannot contain whitespace or control characters');
  });
});

describe('bench-compare: resolving the base ref', () => {
  const haveGit = spawnSync('git', ['-C', ROOT, 'rev-parse', 'HEAD']).status === 0;

  it('resolves HEAD of this checkout to its commit', () => {
    expect(haveGit, 'the test runs in a git checkout').toBe(true);
    const head = spawnSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
    expect(resolveBaseRef(ROOT, 'HEAD')).toBe(head);
  });

  it('refuses a ref that names no commit, saying which ref and which repository', () => {
    const msg = usageError(() => resolveBaseRef(ROOT, 'no-such-branch-for-bench-compare'));
    expect(msg).toBe(`bad base ref 'no-such-branch-for-bench-compare': no commit of that name in the repository at ${ROOT} (try a branch, tag or commit, e.g. main or HEAD~1)`);
    // A tree, not a commit.
    expect(usageError(() => resolveBaseRef(ROOT, 'HEAD^{tree}'))).toMatch(/^bad base ref 'HEAD\^\{tree\}': no commit of that name/);
  });

  // The compiled program (make test builds dist/ first): both refusals come before anything is
  // extracted or built, as one line on stderr and exit code 2.
  const COMPARE = join(ROOT, 'dist', 'tools', 'bench', 'compare.js');
  const runCompare = (...args: string[]) => spawnSync(process.execPath, [COMPARE, ...args], { encoding: 'utf8', env: { ...process.env, BENCH_SCALE: '' }, timeout: 60_000 });

  it('the program refuses a bad ref with one clear line and exit code 2', () => {
    expect(existsSync(COMPARE), 'dist/ is built by make test before the tests run').toBe(true);
    const r = runCompare('--base', 'no-such-branch-for-bench-compare');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`bench-compare: bad base ref 'no-such-branch-for-bench-compare': no commit of that name in the repository at ${ROOT} (try a branch, tag or commit, e.g. main or HEAD~1)\n`);
  });

  it('the program refuses a base whose benchmarks have no machine-readable mode (the first commit)', () => {
    const first = spawnSync('git', ['-C', ROOT, 'rev-list', '--max-parents=0', 'HEAD'], { encoding: 'utf8' }).stdout.trim().split('\n')[0]!;
    expect(first).toMatch(/^[0-9a-f]{40}$/);
    const r = runCompare('--base', first);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`bench-compare: base '${first}' (${first.slice(0, 12)}) predates the benchmarks' machine-readable mode: it has no tools/bench/figures.ts`);
  });
});
