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
import { addStats, EXHAUSTIVE_ALPHABET, exhaustiveContext, exploreWorkload, type ExhaustiveContext, type SearchPath } from './exhaustive.js';
import { RecoveryMemo, runWithForks, type ForkSampling } from './fork.js';
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
  /**
   * 'fork' (default): random programs also explore forked crashes at sampled I/O calls and
   * exhaustive mode forks instead of re-running (src/sim/fork.ts); 'rerun': the simple path.
   */
  path?: SearchPath;
  /** Chance that an I/O call of a random program is forked (path 'fork'; default FORK_RATE). */
  forkRate?: number;
  /** Soak: run random programs (at least one) until this returns true (checked between programs) instead of `runs`. */
  until?: () => boolean;
}

/** Default chance that an I/O call of a random program is forked. */
export const FORK_RATE = 1;

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
/**
 * Run one random program (seed fixes the program, the disk and every crash). With history,
 * the program also reads in transactions and begins some at snapshot isolation (crashtest's
 * default); without it (the default here) it is the plain alphabet's program for the seed.
 * With `forks`, sampled I/O calls are forked too (fork.ts): the program's own crash states
 * are the same.
 */
export async function runRandomProgram(seed: number, faults: Partial<SimFaults>, length = 40, history = false, forks?: ForkSampling): Promise<RunResult> {
  const options = { seed, faults, ioJitter: jitterFor(seed) };
  if (forks !== undefined) return runWithForks(options, programGenerator(seed, { length, history }), forks);
  return new Runner(options).run(programGenerator(seed, { length, history }));
}

/** Replay a script exactly as the failing run executed it. */
export async function runScript(seed: number, ops: readonly Op[], faults: Partial<SimFaults> = DEFAULT_FAULTS, ioJitter = jitterFor(seed)): Promise<RunResult> {
  const r = new Runner({ seed, faults, ioJitter });
  return r.run(ops);
}

/** One independent piece of a search: random program `index` or exhaustive workload `index`. */
export interface CrashtestUnit {
  kind: 'program' | 'workload';
  index: number;
}

/** What one unit explored. */
export interface UnitResult {
  unit: CrashtestUnit;
  crashStates: number;
  imageChecks: number;
  faults: SimStats;
  violations: CrashtestFailure[];
}

/** The options a unit depends on (plain data: worker threads get a copy). */
export type UnitOptions = Pick<CrashtestOptions, 'seed' | 'faults' | 'maxOps' | 'length' | 'path' | 'forkRate' | 'history'>;

/**
 * Runs units. Every unit is a pure function of the options and its index, so units may run
 * in any order, on any thread, and a summary merged in unit order is the same.
 */
export class UnitRunner {
  private readonly memo = new RecoveryMemo();
  private exhaustive: Promise<ExhaustiveContext> | undefined;

  constructor(readonly opts: UnitOptions) {}

  async run(unit: CrashtestUnit): Promise<UnitResult> {
    const o = this.opts;
    const faults = o.faults ?? DEFAULT_FAULTS;
    const path = o.path ?? 'fork';
    if (unit.kind === 'program') {
      const seed = (o.seed + unit.index) >>> 0;
      const res = await runRandomProgram(seed, faults, o.length, o.history ?? true, path === 'fork' ? { rate: o.forkRate ?? FORK_RATE, memo: this.memo } : undefined);
      const violations: CrashtestFailure[] = res.violation === null ? [] : [{ seed, jitter: jitterFor(seed), ops: res.ops, message: res.violation.message, opIndex: res.violation.opIndex }];
      return { unit, crashStates: res.crashStates, imageChecks: res.imageChecks, faults: res.faults, violations };
    }
    this.exhaustive ??= exhaustiveContext({ seed: o.seed, maxOps: o.maxOps ?? 3, faults, path });
    const ex = await exploreWorkload(await this.exhaustive, unit.index);
    const violations = ex.failures.map((f) => ({ seed: f.seed, jitter: 0, ops: f.script, message: `[${f.workload}] ${f.result.violation!.message}`, opIndex: f.result.violation!.opIndex }));
    return { unit, crashStates: ex.crashStates, imageChecks: ex.imageChecks, faults: ex.faults, violations };
  }
}

/** The number of exhaustive workloads of up to maxOps operations. */
export function workloadCount(maxOps = 3): number {
  let n = 0;
  for (let len = 1, layer = 1; len <= maxOps; len++) n += layer *= EXHAUSTIVE_ALPHABET.length;
  return n;
}

/** An empty summary. */
export function emptySummary(): CrashtestSummary {
  return { programs: 0, workloads: 0, crashStates: 0, imageChecks: 0, faults: zero(), violations: [] };
}

/** Add a unit's result to a summary (units must be added in order: programs, then workloads). */
export function addUnit(s: CrashtestSummary, r: UnitResult): void {
  if (r.unit.kind === 'program') s.programs++;
  else s.workloads++;
  s.crashStates += r.crashStates;
  s.imageChecks += r.imageChecks;
  addStats(s.faults, r.faults);
  s.violations.push(...r.violations);
}

export async function crashtest(opts: CrashtestOptions): Promise<CrashtestSummary> {
  const stopAtFirst = opts.stopAtFirst ?? true;
  const s = emptySummary();
  const units = new UnitRunner(opts);
  const endless = opts.until !== undefined;
  for (let i = 0; endless ? i === 0 || !opts.until!() : i < opts.runs; i++) {
    const r = await units.run({ kind: 'program', index: i });
    addUnit(s, r);
    if (r.violations.length > 0 && stopAtFirst) return s;
    opts.onStep?.({ phase: 'programs', done: i + 1, total: endless ? i + 1 : opts.runs });
    if ((i + 1) % 50 === 0) opts.onProgress?.(`${i + 1}${endless ? '' : `/${opts.runs}`} programs, ${s.crashStates} crash states`);
  }
  if (opts.exhaustive === true) {
    const total = workloadCount(opts.maxOps ?? 3);
    for (let wi = 0; wi < total; wi++) {
      addUnit(s, await units.run({ kind: 'workload', index: wi }));
      opts.onStep?.({ phase: 'exhaustive', done: wi + 1, total });
      if ((wi + 1) % 25 === 0) opts.onProgress?.(`exhaustive: ${wi + 1}/${total} workloads`);
    }
  }
  return s;
}
