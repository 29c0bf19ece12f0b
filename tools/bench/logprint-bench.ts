/**
 * Benchmark of the log printers: throughput (MB/s, records/s) and peak memory of
 * `tdb-logprint < FILE > /dev/null` and `tokusim logprint FILE > /dev/null` on two synthetic
 * single-file logs (values of a few KiB; small records), printed next to the real
 * tokuft_logprint's reference figures. Not a test: it prints figures and asserts nothing.
 *
 * The small-record log is mostly short transactions (xbegin, a few enq_insert/enq_delete
 * with 13-byte keys and short values, xcommit), about 90 bytes per entry on average like the
 * reference measurement's log. The target is 1.5x the reference: MB/s and, for small
 * records, records/s; a run meets it when "x ref" is at least 1.50.
 *
 * Logs are generated once under bench-data/ (git-ignored) and reused while their parameters
 * match. BENCH_SCALE (default 1) scales the sizes, e.g. BENCH_SCALE=0.02 for a smoke run.
 * Each program runs BENCH_RUNS times (default 3); the fastest run is shown (the machine may
 * be busy), with the largest peak RSS of all runs, from /usr/bin/time -f %M when available.
 *
 * BENCH_JSON=<file> also writes the MB/s figures to that file (tools/bench/figures.ts).
 *
 * Run after `make build`: node dist/tools/bench/logprint-bench.js
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { synthesizeLog } from '../../src/log/synth.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { Figures } from './figures.js';
import { useFastChecksums } from '../../src/node/fast-defaults.js';

useFastChecksums();

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const DIST = join(ROOT, 'dist', 'tools');
const DATA = join(ROOT, 'bench-data');
const SCALE = Number(process.env['BENCH_SCALE'] ?? '1');
const RUNS = Math.max(1, Number(process.env['BENCH_RUNS'] ?? '3'));
const HAVE_TIME = existsSync('/usr/bin/time');
/** Target speed-up over the reference tokuft_logprint. */
const TARGET = 1.5;

interface Dataset {
  name: string;
  sizeMb: number;
  valueBytes: number;
  /** Reference figures of the real tokuft_logprint (spec measurements). */
  refMBps: number;
  refRecPerSec?: number;
  refRssMb: number;
}

const DATASETS: Dataset[] = [
  { name: 'large-values', sizeMb: 240, valueBytes: 4096, refMBps: 105, refRssMb: 3 },
  { name: 'small-records', sizeMb: 200, valueBytes: 60, refMBps: 81, refRecPerSec: 900_000, refRssMb: 3 },
];

interface Prepared {
  file: string;
  bytes: number;
  records: number;
}

async function prepare(d: Dataset): Promise<Prepared> {
  const sizeMb = Math.max(0.05, d.sizeMb * SCALE);
  const dir = join(DATA, `logprint-${d.name}`);
  const stampPath = join(dir, 'params.json');
  const params = JSON.stringify({ sizeMb, valueBytes: d.valueBytes, seed: 1, version: 1 });
  if (existsSync(stampPath)) {
    const stamp = JSON.parse(readFileSync(stampPath, 'utf8')) as { params: string; file: string; records: number };
    if (stamp.params === params && existsSync(stamp.file)) {
      return { file: stamp.file, bytes: statSync(stamp.file).size, records: stamp.records };
    }
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  process.stdout.write(`generating ${d.name}: ${sizeMb.toFixed(1)} MB, values of ${d.valueBytes} bytes ... `);
  const t0 = performance.now();
  // One file: lg_max at PerconaFT's maximum (1 GiB), since tdb-logprint reads one file.
  const r = await synthesizeLog({ storage: new NodeStorage(), dir, targetBytes: Math.floor(sizeMb * (1 << 20)), valueBytes: d.valueBytes, seed: 1, lgMax: 1 << 30 });
  const file = r.files.find((f) => statSync(f).size > 12) ?? r.files[0]!;
  const secs = (performance.now() - t0) / 1000;
  process.stdout.write(`${r.records} records in ${secs.toFixed(1)} s (${(r.bytes / (1 << 20) / secs).toFixed(1)} MB/s written)\n`);
  writeFileSync(stampPath, JSON.stringify({ params, file, records: r.records }));
  return { file, bytes: statSync(file).size, records: r.records };
}

interface Measured {
  seconds: number;
  rssMb: number | undefined;
  exit: number | null;
}

/** The best (fastest) of RUNS runs, with the largest peak RSS seen. */
function measureBest(script: string, args: string[], stdinFile: string | undefined): Measured {
  let best: Measured | undefined;
  let rss: number | undefined;
  for (let i = 0; i < RUNS; i++) {
    const m = measure(script, args, stdinFile);
    if (m.rssMb !== undefined) rss = Math.max(rss ?? 0, m.rssMb);
    if (m.exit !== 0) return m;
    if (best === undefined || m.seconds < best.seconds) best = m;
  }
  return { ...best!, rssMb: rss };
}

/** Run `node script args...` with stdin from a file and stdout to /dev/null. */
function measure(script: string, args: string[], stdinFile: string | undefined): Measured {
  const inFd = stdinFile === undefined ? 'ignore' : openSync(stdinFile, 'r');
  const outFd = openSync('/dev/null', 'w');
  try {
    const cmd = HAVE_TIME ? '/usr/bin/time' : process.execPath;
    const argv = HAVE_TIME ? ['-f', '%M', process.execPath, script, ...args] : [script, ...args];
    const t0 = performance.now();
    const r = spawnSync(cmd, argv, { stdio: [inFd, outFd, 'pipe'], encoding: 'utf8', maxBuffer: 1 << 20 });
    const seconds = (performance.now() - t0) / 1000;
    let rssMb: number | undefined;
    if (HAVE_TIME) {
      const lines = (r.stderr ?? '').trim().split('\n');
      const kb = Number(lines[lines.length - 1]);
      if (Number.isFinite(kb)) rssMb = kb / 1024;
    }
    return { seconds, rssMb, exit: r.status };
  } finally {
    if (typeof inFd === 'number') closeSync(inFd);
    closeSync(outFd);
  }
}

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

async function main(): Promise<void> {
  for (const s of ['tdb-logprint.js', 'tokusim.js']) {
    if (!existsSync(join(DIST, s))) {
      process.stderr.write(`logprint-bench: ${join(DIST, s)} is missing; run make build first\n`);
      process.exitCode = 1;
      return;
    }
  }
  mkdirSync(DATA, { recursive: true });
  console.log(
    `logprint benchmark (BENCH_SCALE=${SCALE}; best of ${RUNS} runs; node ${process.version}; peak RSS ${HAVE_TIME ? 'from /usr/bin/time' : 'not measured'})`,
  );
  const widths = [34, 9, 10, 10, 12, 10, 9];
  const figures = new Figures('logprint-bench');
  for (const d of DATASETS) {
    const p = await prepare(d);
    const mb = p.bytes / (1 << 20);
    console.log(`\n${d.name}: ${mb.toFixed(1)} MB, ${p.records} records (${(p.bytes / p.records).toFixed(0)} bytes/record)`);
    console.log(row(['program', 'seconds', 'MB/s', 'x ref', 'records/s', 'x ref', 'peak MB'], widths));
    const runs: Array<[string, string, Measured]> = [
      ['tdb-logprint < FILE', 'tdb-logprint', measureBest(join(DIST, 'tdb-logprint.js'), [], p.file)],
      ['tokusim logprint FILE', 'tokusim-logprint', measureBest(join(DIST, 'tokusim.js'), ['logprint', p.file], undefined)],
    ];
    for (const [name, key, m] of runs) {
      const mbps = mb / m.seconds;
      if (m.exit === 0) figures.add(`printer.${d.name}.${key}.mbps`, `printer ${key}, ${d.name}`, 'MB/s', mbps, 'higher');
      const recps = p.records / m.seconds;
      const status = m.exit === 0 ? '' : `  (exit ${m.exit})`;
      const recRatio = d.refRecPerSec === undefined ? '-' : (recps / d.refRecPerSec).toFixed(2);
      console.log(
        row([name, m.seconds.toFixed(2), mbps.toFixed(1), (mbps / d.refMBps).toFixed(2), Math.round(recps).toString(), recRatio, m.rssMb?.toFixed(1) ?? '-'], widths) + status,
      );
    }
    console.log(
      row(['tokuft_logprint (reference)', '-', d.refMBps.toFixed(1), '1.00', d.refRecPerSec?.toString() ?? '-', d.refRecPerSec === undefined ? '-' : '1.00', d.refRssMb.toFixed(1)], widths),
    );
    const recTarget = d.refRecPerSec === undefined ? '' : ` and >= ${Math.round(TARGET * d.refRecPerSec)} records/s`;
    console.log(`target: ${TARGET}x the reference, i.e. >= ${(TARGET * d.refMBps).toFixed(1)} MB/s${recTarget} ("x ref" >= ${TARGET.toFixed(2)})`);
  }
  figures.writeIfRequested();
}

await main();
