/**
 * Throughput and peak memory of `tokusim extract` and of a full node dump on generated
 * PerconaFT environments (layout-29 dictionaries written by ft-layout29-writer.ts), against a
 * baseline measured in the same run: a raw sequential read of the same dictionary files.
 * Figures are printed as MB/s of dictionary data (bytes of the dictionary files), as ratios to
 * the baseline, and as peak RSS for 50 / 100 / 200 MB of dictionary data; a streaming
 * extract keeps the RSS about flat. Not a test: it prints figures and asserts nothing.
 *
 * Each measurement runs in a fresh process (so peak RSS is its own). The environments are
 * built under bench-data/extract (git-ignored) once and reused; delete the folder to rebuild.
 * BENCH_SCALE (default 1) scales the sizes, BENCH_ROUNDS (default 3) sets the rounds per size;
 * figures are medians with min-max, each ratio taken against the same round's baseline. Run
 * after `make build`:
 * node dist/tools/bench/extract-bench.js
 *
 * "Full dump" is `tokusim ftdump FILE`'s no-option text dump of every dictionary (the three
 * translations, the header and every node, as tokuftdump prints them), streamed in chunks to
 * a byte counter as the CLI streams it to stdout.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { registerNodeCodecs } from '../../src/ft/node-codecs.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { ReadOnlyStorage } from '../../src/storage/read-only-storage.js';
import { extractCommand } from '../commands/extract.js';
import { runFtdump } from '../commands/ftdump.js';
import { FtLayout29Writer, WRITER_COMPRESSION, type WriterCompression } from './ft-layout29-writer.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const DATA = join(ROOT, 'bench-data', 'extract');
const SCALE = Number(process.env['BENCH_SCALE'] ?? '1');
const MB = 1_000_000;
const SIZES_MB = [50, 100, 200].map((m) => Math.max(1, Math.round(m * SCALE)));
/** Rounds per size (BENCH_ROUNDS, default 3): read, extract and dump alternate within each. */
const ROUNDS = Math.max(1, Number(process.env['BENCH_ROUNDS'] ?? '3'));
/** User dictionaries per environment (their data split evenly). */
const DICTS = 4;
/** Written last by a build, so a build cut short is redone. */
const BUILT = 'bench-built';
const PERCONA_LOCKS = ['__tokudb_lock_dont_delete_me_data', '__tokudb_lock_dont_delete_me_environment', '__tokudb_lock_dont_delete_me_logs', '__tokudb_lock_dont_delete_me_recovery', '__tokudb_lock_dont_delete_me_temp'];

const enc = new TextEncoder();

/** xorshift32: deterministic row contents, cheap enough for hundreds of MB. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function writeDict(path: string, rows: Iterable<[Uint8Array, Uint8Array]>, compression: WriterCompression): number {
  const fd = openSync(path, 'w');
  try {
    const w = new FtLayout29Writer({ sink: { pwrite: (b, off) => void writeSync(fd, b, 0, b.length, off) }, compression, checkpointLsn: 1n });
    for (const [k, v] of rows) w.add(k, v);
    return w.finish().fileSize;
  } finally {
    closeSync(fd);
  }
}

/** Child mode `build DIR MB`: a PerconaFT-layout environment with about MB of dictionary data. */
function build(dir: string, mb: number): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const l of PERCONA_LOCKS) writeFileSync(join(dir, l), '');
  const names: Array<[string, string]> = [];
  const perDict = (mb * MB) / DICTS;
  for (let d = 0; d < DICTS; d++) {
    const iname = `bench${d}_db_2_${d + 1}_1d.tokudb`;
    names.push([`bench${d}.db`, iname]);
    const rnd = xorshift(d + 1);
    const value = new Uint8Array(400);
    let bytes = 0;
    let i = 0;
    const rows = function* (): Generator<[Uint8Array, Uint8Array]> {
      while (bytes < perDict) {
        const key = enc.encode(`k${String(i++).padStart(10, '0')}`);
        // Half random bytes, half text: realistic for the escaping, mildly compressible.
        const len = 100 + (rnd() % 300);
        for (let j = 0; j < len; j += 4) {
          const r = rnd();
          for (let b = 0; b < 4 && j + b < len; b++) value[j + b] = j < len / 2 ? (r >>> (8 * b)) & 0xff : 0x61 + ((j + b) % 26);
        }
        bytes += key.length + len;
        yield [key, value.slice(0, len)];
      }
    };
    writeDict(join(dir, iname), rows(), WRITER_COMPRESSION.none);
  }
  // tokudb.directory: dname\0 → iname\0, sorted by key; tokudb.environment: a version row.
  const dirRows = names.map(([dn, iname]) => [enc.encode(`${dn}\0`), enc.encode(`${iname}\0`)] as [Uint8Array, Uint8Array]).sort((a, b) => Buffer.compare(a[0], b[0]));
  writeDict(join(dir, 'tokudb.directory'), dirRows, WRITER_COMPRESSION.none);
  writeDict(join(dir, 'tokudb.environment'), [[enc.encode('current_version'), Uint8Array.of(29, 0, 0, 0)]], WRITER_COMPRESSION.none);
  writeFileSync(join(dir, BUILT), `${mb}\n`);
}

function dictFiles(dir: string): string[] {
  return Array.from({ length: DICTS }, (_, d) => join(dir, `bench${d}_db_2_${d + 1}_1d.tokudb`));
}

/** Child mode `read|extract|dump DIR`: one measurement, printed as JSON. */
async function measure(mode: string, dir: string): Promise<void> {
  registerNodeCodecs();
  const files = dictFiles(dir);
  const bytes = files.reduce((n, f) => n + statSync(f).size, 0);
  const t0 = performance.now();
  let out = 0;
  if (mode === 'read') {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (const f of files) {
      const fd = openSync(f, 'r');
      try {
        while (readSync(fd, buf, 0, buf.length, null) > 0) out++;
      } finally {
        closeSync(fd);
      }
    }
  } else if (mode === 'extract') {
    const code = await extractCommand(new ReadOnlyStorage(new NodeStorage()), { envdir: dir, json: false, dicts: [] }, { stdout: (c) => void (out += c.length), stderr: () => undefined });
    if (code !== 0) throw new Error(`extract exited ${code}`);
  } else {
    for (const f of files) {
      const r = await runFtdump({ file: f }, { write: (c) => void (out += c.length) });
      if (r.code !== 0) throw new Error(`ftdump ${f} exited ${r.code}: ${r.stderr}`);
      out += r.stdout.length;
    }
  }
  const s = (performance.now() - t0) / 1000;
  process.stdout.write(`${JSON.stringify({ bytes, seconds: s, out, maxRssKiB: process.resourceUsage().maxRSS })}\n`);
}

function child(args: string[]): Measure {
  const r = spawnSync(process.execPath, [import.meta.filename, ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Measure;
}

type Measure = { bytes: number; seconds: number; out: number; maxRssKiB: number };

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
/** "median (min-max)" of xs with `digits` decimals. */
const spread = (xs: number[], digits: number): string => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;

async function main(): Promise<void> {
  registerNodeCodecs();
  mkdirSync(DATA, { recursive: true });
  console.log(`extract and full node dump of generated PerconaFT layout-29 environments (${DICTS} dictionaries each, no compression), each run in a fresh process, ${ROUNDS} rounds of read / extract / dump interleaved; median (min-max)`);
  const rss: Array<{ mb: number; extract: number; dump: number; read: number }> = [];
  for (const mb of SIZES_MB) {
    const dir = join(DATA, `env-${mb}MB`);
    if (!existsSync(join(dir, BUILT))) {
      const r = spawnSync(process.execPath, [import.meta.filename, 'build', dir, String(mb)], { stdio: 'inherit' });
      if (r.status !== 0) throw new Error(`build of ${dir} failed`);
    }
    const runs: Record<'read' | 'extract' | 'dump', Measure[]> = { read: [], extract: [], dump: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of ['read', 'extract', 'dump'] as const) runs[mode].push(child([mode, dir]));
    }
    const rate = (m: Measure) => m.bytes / MB / m.seconds;
    const rates = (mode: keyof typeof runs) => runs[mode].map(rate);
    // Each round's ratio is against that round's baseline.
    const ratios = (mode: keyof typeof runs) => runs[mode].map((m, i) => rate(m) / rate(runs.read[i]!));
    const peak = (mode: keyof typeof runs) => runs[mode].map((m) => m.maxRssKiB / 1024);
    console.log(`  ${String(mb).padStart(4)} MB of dictionary files (${(runs.read[0]!.bytes / MB).toFixed(1)} MB on disk):`);
    console.log(`    raw sequential read  ${spread(rates('read'), 1)} MB/s  (baseline)  peak RSS ${spread(peak('read'), 1)} MiB`);
    console.log(`    extract (TSV)        ${spread(rates('extract'), 1)} MB/s  ${spread(ratios('extract'), 4)}x baseline  peak RSS ${spread(peak('extract'), 1)} MiB  (${(runs.extract[0]!.out / MB).toFixed(1)} MB of TSV)`);
    console.log(`    ftdump full dump     ${spread(rates('dump'), 1)} MB/s  ${spread(ratios('dump'), 4)}x baseline  peak RSS ${spread(peak('dump'), 1)} MiB  (${(runs.dump[0]!.out / MB).toFixed(1)} MB of text)`);
    rss.push({ mb, extract: median(peak('extract')), dump: median(peak('dump')), read: median(peak('read')) });
  }
  const first = rss[0]!;
  console.log('  median peak RSS against the smallest environment (flat = about 1x):');
  for (const r of rss) console.log(`    ${String(r.mb).padStart(4)} MB  extract ${(r.extract / first.extract).toFixed(2)}x  full dump ${(r.dump / first.dump).toFixed(2)}x  raw read ${(r.read / first.read).toFixed(2)}x`);
}

const [mode, dir, mb] = process.argv.slice(2);
if (mode === 'build') build(dir!, Number(mb));
else if (mode === 'read' || mode === 'extract' || mode === 'dump') await measure(mode, dir!);
else await main();
