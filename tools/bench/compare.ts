/**
 * `make bench-compare BASE=<git ref>`: the same benchmark programs of two builds, run on the
 * same machine in one run, interleaved (base, head, base, head, ...) so that both see the same
 * machine conditions, and their figures set side by side: per figure the median and min–max of
 * each side over the rounds, and head/base of the medians.
 *
 * Everything it writes is under one fresh temporary directory (os.tmpdir()), removed at the end,
 * on an error, and on Ctrl-C (SIGINT), SIGTERM or SIGHUP; --keep leaves it for inspection:
 *   base/  the BASE commit's tree (git archive), built there with tsc;
 *   head/  the current working tree built with tsc --outDir head/dist (uncommitted edits count);
 *   figures/, logs/  each program run's BENCH_JSON document and its printed output.
 * Both builds use this checkout's node_modules (a symlink), so a BASE whose package.json needs
 * other packages is compared with these. The programs' own data (bench-data/) lands in base/
 * and head/, as each finds it next to its dist/.
 *
 * The base's benchmark programs must have the machine-readable mode (tools/bench/figures.ts,
 * BENCH_JSON); an older base is refused before anything is built. Which programs run and how
 * each is scaled down is JOBS in compare-lib.ts; --scale multiplies their BENCH_SCALE (default:
 * $BENCH_SCALE, else 1, about three minutes for five rounds on a 2-core VM), --rounds sets the
 * rounds (default 5), --only picks programs. The programs inherit no BENCH_* variable from the
 * caller's environment, so both sides run with the same settings and write nowhere else.
 *
 * Figures are from real files and real time; the table says how far apart the two sides are,
 * and its "ranges" column whether their min–max ranges overlap. Nothing here is asserted.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  CompareUsageError,
  FigureCollector,
  JOBS,
  formatTable,
  parseCompareArgs,
  parseFiguresDocument,
  resolveBaseRef,
  type CompareOptions,
  type Job,
} from './compare-lib.js';

/** The checkout this program was built from (dist/tools/bench/ -> the repository root). */
const REPO = resolve(import.meta.dirname, '..', '..', '..');
type Side = 'base' | 'head';

/** Exits with a message and no stack trace; the temporary directory is removed by the exit hook. */
class CompareFailure extends Error {
  override name = 'CompareFailure';
}

let tmp: string | undefined;
let keep = false;
/** The program running now, and a promise of its exit. */
let child: { process: ChildProcess; exited: Promise<unknown> } | undefined;

function removeTmp(): void {
  if (tmp === undefined || keep) return;
  // Retries: a program just stopped may still have had a file open under it.
  rmSync(tmp, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  tmp = undefined;
}

function onSignal(signal: NodeJS.Signals, code: number): void {
  process.on(signal, () => {
    process.stderr.write(`\nbench-compare: ${signal}, stopping${tmp !== undefined && !keep ? `; removing ${tmp}` : ''}\n`);
    const running = child;
    // Children run in their own process group (detached), so the whole group is stopped:
    // the benchmark and any program it spawned. The directory goes once the child is gone.
    if (running?.process.pid !== undefined) {
      try {
        process.kill(-running.process.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    const waited = running === undefined ? Promise.resolve() : Promise.race([running.exited, new Promise((r) => setTimeout(r, 5000))]);
    void waited.then(() => {
      removeTmp();
      process.exit(code);
    });
  });
}

/** Runs a program to completion with its output in logFile; resolves its exit status. */
function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; logFile: string }): Promise<number | string> {
  const fd = openSync(opts.logFile, 'w');
  return new Promise((done, fail) => {
    const p = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', fd, fd], detached: true });
    const exited = new Promise<number | string>((settle) => {
      p.on('error', (e) => settle(e.message));
      p.on('exit', (status, signal) => settle(status ?? signal ?? 'unknown'));
    });
    child = { process: p, exited };
    p.on('error', (e) => fail(new CompareFailure(`cannot run ${cmd}: ${e.message}`)));
    void exited.then((status) => {
      child = undefined;
      closeSync(fd);
      done(status);
    });
  });
}

function tail(file: string, lines = 25): string {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  return text.trimEnd().split('\n').slice(-lines).map((l) => `  | ${l}`).join('\n');
}

function git(args: string[]): string {
  const r = spawnSync('git', ['-C', REPO, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new CompareFailure(`git ${args.join(' ')} failed in ${REPO}: ${(r.stderr ?? '').trim() || r.error?.message}`);
  return r.stdout;
}

/** The BASE commit's files into dir (git archive piped into tar). */
async function extract(sha: string, dir: string, logFile: string): Promise<void> {
  mkdirSync(dir);
  const fd = openSync(logFile, 'w');
  const archive = spawn('git', ['-C', REPO, 'archive', '--format=tar', sha], { stdio: ['ignore', 'pipe', fd] });
  const untar = spawn('tar', ['-x', '-C', dir], { stdio: [archive.stdout, fd, fd] });
  const status = (p: ChildProcess): Promise<number | string> =>
    new Promise((done) => {
      p.on('error', (e) => done(e.message));
      p.on('exit', (s, sig) => done(s ?? sig ?? 'unknown'));
    });
  const [a, t] = await Promise.all([status(archive), status(untar)]);
  closeSync(fd);
  if (a !== 0 || t !== 0) throw new CompareFailure(`extracting ${sha} into ${dir} failed (git archive: ${a}, tar: ${t}):\n${tail(logFile)}`);
}

async function build(side: Side, tsconfig: string, extra: string[], sideDir: string, logDir: string): Promise<void> {
  const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  const logFile = join(logDir, `build-${side}.log`);
  const t0 = performance.now();
  const status = await run(process.execPath, [tsc, '-p', tsconfig, ...extra], { cwd: sideDir, env: process.env, logFile });
  if (status !== 0) throw new CompareFailure(`building ${side} with tsc -p ${tsconfig} failed (${status}):\n${tail(logFile)}`);
  console.log(`built ${side} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** The environment a program runs with: the caller's, minus every BENCH_* variable, plus the job's. */
function jobEnv(job: Job, scale: number, jsonFile: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BENCH_')) env[k] = v;
  return { ...env, ...job.env, BENCH_SCALE: String(job.baseScale * scale), BENCH_JSON: jsonFile };
}

async function compare(opts: CompareOptions): Promise<void> {
  if (!existsSync(join(REPO, '.git'))) throw new CompareFailure(`${REPO} is not a git checkout (no .git): bench-compare runs from a checkout's dist/`);
  const baseSha = resolveBaseRef(REPO, opts.base);
  const probe = spawnSync('git', ['-C', REPO, 'cat-file', '-e', `${baseSha}:tools/bench/figures.ts`]);
  if (probe.status !== 0) {
    throw new CompareUsageError(
      `base '${opts.base}' (${baseSha.slice(0, 12)}) predates the benchmarks' machine-readable mode: it has no tools/bench/figures.ts, ` +
        'so its programs cannot write BENCH_JSON figures. Pick a base that has it (a commit at or after the one adding tools/bench/compare.ts).',
    );
  }
  const headSha = git(['rev-parse', 'HEAD']).trim();
  const dirty = git(['status', '--porcelain', '--untracked-files=no']).trim() !== '';
  const jobs = JOBS.filter((j) => opts.only.includes(j.name));

  tmp = mkdtempSync(join(tmpdir(), 'tokusim-bench-compare-'));
  const dirs = { base: join(tmp, 'base'), head: join(tmp, 'head') };
  const logDir = join(tmp, 'logs');
  const figDir = join(tmp, 'figures');
  mkdirSync(logDir);
  mkdirSync(figDir);
  const modules = realpathSync(join(REPO, 'node_modules'));

  console.log(`bench-compare: base ${opts.base} = ${baseSha.slice(0, 12)}, head = working tree at ${headSha.slice(0, 12)}${dirty ? ' with uncommitted changes' : ''}`);
  console.log(`  ${opts.rounds} rounds, scale ${opts.scale}, programs: ${jobs.map((j) => j.name).join(', ')}; in ${tmp}`);
  await extract(baseSha, dirs.base, join(logDir, 'extract-base.log'));
  symlinkSync(modules, join(dirs.base, 'node_modules'), 'dir');
  await build('base', join(dirs.base, 'tsconfig.json'), [], dirs.base, logDir);
  mkdirSync(dirs.head);
  symlinkSync(modules, join(dirs.head, 'node_modules'), 'dir');
  // The CLI finds its version in the package.json above its dist/.
  copyFileSync(join(REPO, 'package.json'), join(dirs.head, 'package.json'));
  await build('head', join(REPO, 'tsconfig.json'), ['--outDir', join(dirs.head, 'dist')], dirs.head, logDir);
  for (const side of ['base', 'head'] as const) {
    for (const j of jobs) {
      const script = join(dirs[side], 'dist', 'tools', 'bench', j.script);
      if (!existsSync(script)) throw new CompareFailure(`${side} build has no ${script}`);
    }
  }

  const load0 = loadavg();
  const collector = new FigureCollector();
  const t0 = performance.now();
  for (let r = 1; r <= opts.rounds; r++) {
    for (const job of jobs) {
      const times: string[] = [];
      for (const side of ['base', 'head'] as const) {
        const stem = `${side}-${job.name}-${r}`;
        const jsonFile = join(figDir, `${stem}.json`);
        const logFile = join(logDir, `${stem}.log`);
        const t = performance.now();
        const status = await run(process.execPath, [join(dirs[side], 'dist', 'tools', 'bench', job.script)], { cwd: dirs[side], env: jobEnv(job, opts.scale, jsonFile), logFile });
        if (status !== 0) throw new CompareFailure(`${side} ${job.name} (round ${r}, ${job.script}) exited with ${status}; its last output:\n${tail(logFile)}`);
        if (!existsSync(jsonFile)) {
          throw new CompareFailure(`${side} ${job.name} (round ${r}, ${job.script}) finished but wrote no figures to BENCH_JSON (${jsonFile}); its last output:\n${tail(logFile)}`);
        }
        collector.add(side, parseFiguresDocument(readFileSync(jsonFile, 'utf8'), `${side} ${job.name} round ${r} (${jsonFile})`));
        times.push(`${side} ${((performance.now() - t) / 1000).toFixed(1)} s`);
      }
      console.log(`round ${r}/${opts.rounds}  ${job.name.padEnd(10)}  ${times.join('  ')}`);
    }
  }
  const load1 = loadavg();
  console.log(
    `\nbase ${opts.base} (${baseSha.slice(0, 12)}) vs head (${headSha.slice(0, 12)}${dirty ? '+changes' : ''}), ${opts.rounds} rounds interleaved, scale ${opts.scale}, ` +
      `${((performance.now() - t0) / 1000).toFixed(0)} s of benchmarks; node ${process.version}, ${cpus().length} CPUs, load average ${load0[0]!.toFixed(2)} at the start, ${load1[0]!.toFixed(2)} at the end`,
  );
  console.log('median [min–max] (runs) per side; head/base = ratio of the medians; "ranges": whether the two min–max ranges overlap\n');
  console.log(formatTable(collector.all()));
}

async function main(): Promise<void> {
  let opts: CompareOptions;
  try {
    opts = parseCompareArgs(process.argv.slice(2), process.env);
  } catch (e) {
    if (e instanceof CompareUsageError) {
      process.stderr.write(`bench-compare: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
  keep = opts.keep;
  onSignal('SIGINT', 130);
  onSignal('SIGTERM', 143);
  onSignal('SIGHUP', 129);
  try {
    await compare(opts);
  } catch (e) {
    if (e instanceof CompareUsageError || e instanceof CompareFailure) {
      process.stderr.write(`bench-compare: ${e.message}\n`);
      process.exitCode = e instanceof CompareUsageError ? 2 : 1;
    } else {
      process.stderr.write(`bench-compare: unexpected error: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    }
  } finally {
    if (keep && tmp !== undefined) console.log(`\nkept ${tmp} (--keep)`);
    removeTmp();
  }
}

await main();
