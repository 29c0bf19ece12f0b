/**
 * `crashtest`: the driver behind `tokusim crashtest` and the CI tests. Random mode runs
 * `runs` generated programs (program i uses seed + i); exhaustive mode enumerates small
 * workloads crashed at every I/O call and hook; replay mode runs one given script.
 *
 * Invariants:
 *  - The summary counts every crash state explored (crash + recovery + checks) and every
 *    checkpoint image checked, and sums the faults the disks injected, by type.
 *  - A violation carries the seed and the operation list, which replay exactly
 *    (runScript(seed, ops) reproduces it).
 */
import type { SimFaults, SimStats } from '../storage/sim-storage.js';
import { runExhaustive, addStats } from './exhaustive.js';
import { programGenerator } from './generator.js';
import type { Op } from './program.js';
import { Runner, type RunResult } from './runner.js';

/** Faults of the random and exhaustive modes unless told otherwise (see docs in the report). */
export const DEFAULT_FAULTS: Partial<SimFaults> = { dropUnsynced: true, tornWrites: true, reorder: true, loseDirEntries: true };

export interface CrashtestOptions {
  seed: number;
  runs: number;
  faults?: Partial<SimFaults>;
  exhaustive?: boolean;
  /** Longest exhaustive workload (default 3). */
  maxOps?: number;
  /** Operations per random program (default 40). */
  length?: number;
  /**
   * Random programs also read inside transactions and run some at snapshot isolation, and the
   * history checker checks every read and snapshot write (default true).
   */
  history?: boolean;
  /** Stop at the first violation (default true). */
  stopAtFirst?: boolean;
  onProgress?: (line: string) => void;
  /** Called after every random program and every exhaustive workload (the CLI draws it). */
  onStep?: (step: CrashtestStep) => void;
}

/** Progress of a crashtest run: `done` of `total` programs or exhaustive workloads. */
export interface CrashtestStep {
  phase: 'programs' | 'exhaustive';
  done: number;
  total: number;
}

export interface CrashtestFailure {
  seed: number;
  /** I/O jitter the failing run used (pass it back to replay). */
  jitter: number;
  ops: Op[];
  message: string;
  opIndex: number;
}

export interface CrashtestSummary {
  programs: number;
  workloads: number;
  crashStates: number;
  imageChecks: number;
  faults: SimStats;
  violations: CrashtestFailure[];
}

function zero(): SimStats {
  return { ioOps: 0, crashes: 0, writesKept: 0, writesDropped: 0, writesTorn: 0, sectorsLost: 0, truncatesKept: 0, truncatesDropped: 0, dirOpsKept: 0, dirOpsLost: 0, filesGone: 0, bytesCorrupted: 0 };
}

/** Seeded jitter per program: a third of the programs run with interleaved I/O completion. */
export function jitterFor(seed: number): number {
  return seed % 3;
}

/**
 * Run one random program (seed fixes the program, the disk and every crash). With history,
 * the program also reads in transactions and begins some at snapshot isolation (crashtest's
 * default); without it (the default here) it is the plain alphabet's program for the seed.
 */
export async function runRandomProgram(seed: number, faults: Partial<SimFaults>, length = 40, history = false): Promise<RunResult> {
  const r = new Runner({ seed, faults, ioJitter: jitterFor(seed) });
  return r.run(programGenerator(seed, { length, history }));
}

/** Replay a script exactly as the failing run executed it. */
export async function runScript(seed: number, ops: readonly Op[], faults: Partial<SimFaults> = DEFAULT_FAULTS, ioJitter = jitterFor(seed)): Promise<RunResult> {
  const r = new Runner({ seed, faults, ioJitter });
  return r.run(ops);
}

export async function crashtest(opts: CrashtestOptions): Promise<CrashtestSummary> {
  const faults = opts.faults ?? DEFAULT_FAULTS;
  const stopAtFirst = opts.stopAtFirst ?? true;
  const s: CrashtestSummary = { programs: 0, workloads: 0, crashStates: 0, imageChecks: 0, faults: zero(), violations: [] };
  for (let i = 0; i < opts.runs; i++) {
    const seed = (opts.seed + i) >>> 0;
    const res = await runRandomProgram(seed, faults, opts.length, opts.history ?? true);
    s.programs++;
    s.crashStates += res.crashStates;
    s.imageChecks += res.imageChecks;
    addStats(s.faults, res.faults);
    if (res.violation !== null) {
      s.violations.push({ seed, jitter: jitterFor(seed), ops: res.ops, message: res.violation.message, opIndex: res.violation.opIndex });
      if (stopAtFirst) return s;
    }
    opts.onStep?.({ phase: 'programs', done: i + 1, total: opts.runs });
    if ((i + 1) % 50 === 0) opts.onProgress?.(`${i + 1}/${opts.runs} programs, ${s.crashStates} crash states`);
  }
  if (opts.exhaustive === true) {
    const ex = await runExhaustive({
      seed: opts.seed,
      maxOps: opts.maxOps ?? 3,
      faults,
      onProgress: (done, total) => {
        opts.onStep?.({ phase: 'exhaustive', done, total });
        if (done % 25 === 0) opts.onProgress?.(`exhaustive: ${done}/${total} workloads`);
      },
    });
    s.workloads += ex.workloads;
    s.crashStates += ex.crashStates;
    s.imageChecks += ex.imageChecks;
    addStats(s.faults, ex.faults);
    for (const f of ex.failures) {
      s.violations.push({ seed: f.seed, jitter: 0, ops: f.script, message: `[${f.workload}] ${f.result.violation!.message}`, opIndex: f.result.violation!.opIndex });
    }
  }
  return s;
}
