/**
 * `tokusim crashtest --seed S --runs N [--faults LIST] [--exhaustive] [--plant-bug NAME|list]
 *  [--script 'op; op; ...' | --replay FILE] [--jitter J] [--jobs N] [--duration SECONDS]
 *  [--path fork|rerun]`: run the crash-test harness
 * (src/sim/) and print crash states explored, faults injected by type and violations found.
 * On a violation it prints the seed and the operation list as a replayable script, with the
 * command that replays it, and exits with EXIT.VIOLATION (6). With --json the same facts are
 * one JSON document on stdout (README "JSON output"). Progress goes to stderr (tools/progress.ts).
 *
 * --jobs N spreads the search over N worker threads (tools/crashtest-pool.ts) with the same
 * report as --jobs 1; --duration runs random programs until the time is up (a soak), then
 * prints the report with every violation found.
 *
 * Invariants:
 *  - Exit 0 only when no violation was found; 6 on a violation; 2 on a bad argument.
 *  - Planted bugs are switched on only for this process and only when asked.
 */
import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { TokusimError } from '../../src/base/errors.js';
import { PLANTED_BUGS, PLANTED_BUG_NAMES, clearPlantedBugs, plantBug } from '../../src/base/bug-switches.js';
import type { SimFaults } from '../../src/storage/sim-storage.js';
import { DEFAULT_FAULTS, jitterFor, runScript, type CrashtestFailure, type CrashtestStep, type CrashtestSummary } from '../../src/sim/crashtest.js';
import type { SearchPath } from '../../src/sim/exhaustive.js';
import { crashtestParallel } from '../crashtest-pool.js';
import { formatOp, parseScript } from '../../src/sim/program.js';
import { EXIT, runCommand } from '../cli-support.js';
import { startProgress, type ProgressDisplay, type ProgressStream } from '../progress.js';

const FAULT_NAMES: Array<keyof SimFaults> = ['dropUnsynced', 'tornWrites', 'reorder', 'loseDirEntries'];

/** `--faults all`, `none`, `default`, or a comma list of fault names. */
export function parseFaults(spec: string | undefined): Partial<SimFaults> {
  if (spec === undefined || spec === 'default') return { ...DEFAULT_FAULTS };
  const out: SimFaults = { dropUnsynced: false, tornWrites: false, reorder: false, loseDirEntries: false };
  if (spec === 'none') return out;
  if (spec === 'all') return { dropUnsynced: true, tornWrites: true, reorder: true, loseDirEntries: true };
  for (const name of spec.split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
    const f = FAULT_NAMES.find((n) => n.toLowerCase() === name.toLowerCase());
    if (f === undefined) throw new TokusimError('bad-argument', `unknown fault '${name}'`, { expected: `all, none, default or a list of ${FAULT_NAMES.join(', ')}`, actual: name });
    out[f] = true;
  }
  return out;
}

export interface CrashtestCliOptions {
  seed: number;
  runs: number;
  faults?: string;
  exhaustive?: boolean;
  plantBug?: string;
  script?: string;
  replay?: string;
  jitter?: number;
  /** One JSON document on stdout instead of the text summary. */
  json?: boolean;
  /** Worker threads (default 1: in process). */
  jobs?: number;
  /** Soak: run random programs for this many seconds instead of --runs. */
  duration?: number;
  /** How crash states are reached (default fork). */
  path?: SearchPath;
  /** Where progress is drawn (default process.stderr). */
  progress?: ProgressStream;
}

function faultsFlag(f: Partial<SimFaults>): string {
  const on = FAULT_NAMES.filter((n) => f[n] === true);
  return on.length === 0 ? 'none' : on.join(',');
}

function printSummary(s: CrashtestSummary, out: (line: string) => void): void {
  out(`programs run: ${s.programs}${s.workloads > 0 ? `, exhaustive workloads: ${s.workloads}` : ''}`);
  out(`crash states explored: ${s.crashStates} (plus ${s.imageChecks} checkpoint images checked)`);
  const f = s.faults;
  out(`faults injected: crashes ${f.crashes}, unsynced writes dropped ${f.writesDropped}, kept ${f.writesKept}, torn ${f.writesTorn} (${f.sectorsLost} sectors lost), truncates dropped ${f.truncatesDropped}, directory entries lost ${f.dirOpsLost}, files gone ${f.filesGone}`);
  out(`violations found: ${s.violations.length}`);
}

/** The command line that replays a violation exactly. */
function replayCommandFor(v: CrashtestFailure, faults: Partial<SimFaults>, plant: string | undefined): string {
  const script = v.ops.map(formatOp).join('; ');
  return `tokusim crashtest --seed ${v.seed} --jitter ${v.jitter} --faults ${faultsFlag(faults)}${plant !== undefined ? ` --plant-bug ${plant}` : ''} --script '${script}'`;
}

function printViolation(v: CrashtestFailure, faults: Partial<SimFaults>, plant: string | undefined, out: (line: string) => void): void {
  out(`VIOLATION (seed ${v.seed}, at operation ${v.opIndex + 1} of ${v.ops.length}): ${v.message}`);
  out('script:');
  for (const op of v.ops) out(`  ${formatOp(op)}`);
  out(`replay: ${replayCommandFor(v, faults, plant)}`);
}

/** The --json document of a run (shape documented in README "JSON output"). */
export function crashtestJson(s: CrashtestSummary, opts: CrashtestCliOptions, faults: Partial<SimFaults>): object {
  return {
    seed: opts.seed,
    runs: opts.runs,
    exhaustive: opts.exhaustive === true,
    faults: FAULT_NAMES.filter((n) => faults[n] === true),
    plantedBug: opts.plantBug ?? null,
    programs: s.programs,
    workloads: s.workloads,
    crashStates: s.crashStates,
    imageChecks: s.imageChecks,
    injected: s.faults,
    violations: s.violations.map((v) => ({
      seed: v.seed,
      jitter: v.jitter,
      operation: v.opIndex + 1,
      operations: v.ops.length,
      message: v.message,
      script: v.ops.map(formatOp),
      replay: replayCommandFor(v, faults, opts.plantBug),
    })),
  };
}

/** Draws crashtest progress, one bar per phase. */
function crashtestProgress(stream: ProgressStream | undefined): { onStep(step: CrashtestStep): void; stop(): void } {
  let shown: { phase: string; display: ProgressDisplay } | undefined;
  return {
    onStep(step) {
      if (shown?.phase !== step.phase) {
        shown?.display.stop();
        const display = startProgress({ title: `crashtest ${step.phase}`, unit: step.phase === 'programs' ? 'programs' : 'workloads', ...(stream !== undefined ? { stream } : {}) });
        shown = { phase: step.phase, display };
      }
      shown.display.update(step.done, step.total);
    },
    stop() {
      shown?.display.stop();
    },
  };
}

/** The body of `tokusim crashtest`; returns the exit code. */
export async function runCrashtest(opts: CrashtestCliOptions, out: (line: string) => void): Promise<number> {
  if (opts.plantBug === 'list') {
    if (opts.json) out(JSON.stringify({ plantedBugs: PLANTED_BUG_NAMES.map((name) => ({ name, description: PLANTED_BUGS[name] })) }, null, 2));
    else for (const name of PLANTED_BUG_NAMES) out(`${name}: ${PLANTED_BUGS[name]}`);
    return EXIT.OK;
  }
  if (!Number.isSafeInteger(opts.seed) || opts.seed < 0) throw new TokusimError('bad-argument', '--seed must be a non-negative integer', { actual: String(opts.seed) });
  if (!Number.isSafeInteger(opts.runs) || opts.runs < 0) throw new TokusimError('bad-argument', '--runs must be a non-negative integer', { actual: String(opts.runs) });
  const faults = parseFaults(opts.faults);
  clearPlantedBugs();
  if (opts.plantBug !== undefined) plantBug(opts.plantBug);
  try {
    if (opts.script !== undefined || opts.replay !== undefined) {
      const text = opts.script ?? readFileSync(opts.replay!, 'utf8');
      const ops = parseScript(text);
      const jitter = opts.jitter ?? jitterFor(opts.seed);
      const r = await runScript(opts.seed, ops, faults, jitter);
      const summary: CrashtestSummary = { programs: 1, workloads: 0, crashStates: r.crashStates, imageChecks: r.imageChecks, faults: r.faults, violations: [] };
      if (r.violation !== null) summary.violations.push({ seed: opts.seed, jitter, ops: r.ops, message: r.violation.message, opIndex: r.violation.opIndex });
      if (opts.json) out(JSON.stringify(crashtestJson(summary, opts, faults), null, 2));
      else {
        printSummary(summary, out);
        for (const v of summary.violations) printViolation(v, faults, opts.plantBug, out);
      }
      return summary.violations.length > 0 ? EXIT.VIOLATION : EXIT.OK;
    }
    const jobs = opts.jobs ?? 1;
    if (!Number.isSafeInteger(jobs) || jobs < 1) throw new TokusimError('bad-argument', '--jobs must be a positive integer', { actual: String(opts.jobs) });
    const soak = opts.duration !== undefined;
    if (soak && (!Number.isFinite(opts.duration) || opts.duration! <= 0)) throw new TokusimError('bad-argument', '--duration must be a positive number of seconds', { actual: String(opts.duration) });
    if (soak && opts.exhaustive === true) throw new TokusimError('bad-argument', '--duration runs random programs only; leave out --exhaustive', { actual: '--duration with --exhaustive' });
    if (opts.path !== undefined && opts.path !== 'fork' && opts.path !== 'rerun') throw new TokusimError('bad-argument', '--path must be fork or rerun', { actual: String(opts.path) });
    const progress = crashtestProgress(opts.progress);
    let s: CrashtestSummary;
    const started = Date.now();
    const deadline = started + (opts.duration ?? 0) * 1000;
    try {
      s = await crashtestParallel({
        seed: opts.seed,
        runs: opts.runs,
        faults,
        exhaustive: opts.exhaustive === true,
        onStep: progress.onStep,
        jobs,
        ...(opts.path !== undefined ? { path: opts.path } : {}),
        // A soak keeps going past a violation and reports every one.
        ...(soak ? { until: () => Date.now() >= deadline, stopAtFirst: false } : {}),
      });
    } finally {
      progress.stop();
    }
    if (opts.json) out(JSON.stringify(crashtestJson(s, opts, faults), null, 2));
    else {
      printSummary(s, out);
      if (soak) out(`soak: ${((Date.now() - started) / 1000).toFixed(0)} s, programs with seeds ${opts.seed}..${opts.seed + s.programs - 1}`);
      for (const v of s.violations.slice(0, soak ? undefined : 1)) printViolation(v, faults, opts.plantBug, out);
    }
    return s.violations.length > 0 ? EXIT.VIOLATION : EXIT.OK;
  } finally {
    clearPlantedBugs();
  }
}

interface CrashtestArgv {
  seed: number;
  runs: number;
  faults?: string;
  exhaustive: boolean;
  'plant-bug'?: string;
  script?: string;
  replay?: string;
  jitter?: number;
  json: boolean;
  jobs: number;
  duration?: number;
  path?: string;
}

export const crashtestCommandModule: CommandModule<object, CrashtestArgv> = {
  command: 'crashtest',
  describe: 'crash-test the engine on a fault-injecting simulated disk (random programs, exhaustive small workloads)',
  builder: (y: Argv<object>) =>
    y
      .option('seed', { type: 'number', default: 1, describe: 'first seed (program i uses seed + i)' })
      .option('runs', { type: 'number', default: 200, describe: 'random programs to run' })
      .option('faults', { type: 'string', describe: `all | none | default | comma list of ${FAULT_NAMES.join(',')} (default: ${faultsFlag(DEFAULT_FAULTS)})` })
      .option('exhaustive', { type: 'boolean', default: false, describe: 'also run every workload of up to 3 operations crashed at every I/O and hook' })
      .option('plant-bug', { type: 'string', describe: 'switch on a planted bug (NAME), or "list" to list them' })
      .option('script', { type: 'string', describe: "replay one program: operations separated by ';'" })
      .option('replay', { type: 'string', describe: 'replay one program from a file (one operation per line)' })
      .option('jitter', { type: 'number', describe: 'I/O jitter for --script/--replay (printed with a violation)' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON document (summary and violations) instead of text' })
      .option('jobs', { type: 'number', default: 1, describe: 'worker threads to spread the search over (same report for any number)' })
      .option('duration', { type: 'number', describe: 'soak: run random programs for this many seconds (instead of --runs), then report every violation' })
      .option('path', { type: 'string', choices: ['fork', 'rerun'], describe: 'reach crash states by forking the disk at each crash point (fork, default) or by re-running the workload (rerun)' })
      .example('$0 crashtest --seed 7 --runs 500', 'run 500 random programs, seeds 7..506')
      .example('$0 crashtest --exhaustive --runs 0 --faults dropUnsynced', 'every small workload, crashed at every I/O, losing unsynced writes only')
      .example('$0 crashtest --plant-bug list', 'list the bugs that can be planted to check the checker')
      .example('$0 crashtest --jobs 2 --duration 600', 'a ten-minute soak on two worker threads')
      .example("$0 crashtest --seed 3 --script 'create d0; begin x1; put x1 d0 k1 7; commit x1; crash sync'", 'replay one program (as printed with a violation)') as unknown as Argv<CrashtestArgv>,
  handler: async (argv) => {
    await runCommand(async () => {
      const opts: CrashtestCliOptions = { seed: argv.seed, runs: argv.runs, exhaustive: argv.exhaustive, json: argv.json, jobs: argv.jobs };
      if (argv.duration !== undefined) opts.duration = argv.duration;
      if (argv.path !== undefined) opts.path = argv.path as SearchPath;
      if (argv.faults !== undefined) opts.faults = argv.faults;
      if (argv['plant-bug'] !== undefined) opts.plantBug = argv['plant-bug'];
      if (argv.script !== undefined) opts.script = argv.script;
      if (argv.replay !== undefined) opts.replay = argv.replay;
      if (argv.jitter !== undefined) opts.jitter = argv.jitter;
      return runCrashtest(opts, (line) => process.stdout.write(`${line}\n`));
    });
  },
};
