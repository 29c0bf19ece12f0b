/**
 * `crashtest --jobs N`: the crash search spread over N worker threads. The search is a list
 * of units (random program i, exhaustive workload w: src/sim/crashtest.ts); each worker takes
 * the next unit when it is free, and the results are merged in unit order, as the in-process
 * search adds them.
 *
 * Invariants:
 *  - The summary is the in-process one for the same options, whatever N: every unit is a pure
 *    function of the options and its index, and units are merged in index order. Stopping at
 *    the first violation stops after the lowest-numbered failing program (every lower one is
 *    still run; results of higher ones are dropped), as the in-process loop does.
 *  - With a deadline (--duration) programs are handed out until it passes (the first one in
 *    any case); the summary holds every program handed out (each finishes), so it is the
 *    in-process summary of that many.
 *  - Every worker is terminated when the search ends, normally or not.
 *  - The workers run the compiled crashtest-worker.js beside this module, or, when this module
 *    runs from its TypeScript source (the test runner), that module bundled by esbuild.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { plantedBugs } from '../src/base/bug-switches.js';
import { TokusimError } from '../src/base/errors.js';
import { defaultEnvHost } from '../src/engine/host.js';
import { addUnit, crashtest, emptySummary, workloadCount, type CrashtestOptions, type CrashtestSummary, type CrashtestUnit, type UnitOptions, type UnitResult } from '../src/sim/crashtest.js';

/** What a worker is started with (crashtest-worker.ts). */
export interface WorkerSetup {
  options: UnitOptions;
  plantedBugs: string[];
  fastChecksums: boolean;
  nodeHost: boolean;
}

let workerProgram: { url: URL } | { source: string } | undefined;

function program(): { url: URL } | { source: string } {
  if (workerProgram !== undefined) return workerProgram;
  const js = new URL('./crashtest-worker.js', import.meta.url);
  if (fs.existsSync(fileURLToPath(js))) return (workerProgram = { url: js });
  const esbuild = createRequire(import.meta.url)('esbuild') as { buildSync(o: object): { outputFiles: Array<{ text: string }> } };
  const built = esbuild.buildSync({
    entryPoints: [fileURLToPath(new URL('./crashtest-worker.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  });
  return (workerProgram = { source: built.outputFiles[0]!.text });
}

export interface ParallelOptions extends CrashtestOptions {
  /** Worker threads (1: the in-process search, no threads). */
  jobs: number;
}

/** The crash search of `crashtest(opts)` on `opts.jobs` worker threads (see the invariants). */
export async function crashtestParallel(opts: ParallelOptions): Promise<CrashtestSummary> {
  if (!Number.isSafeInteger(opts.jobs) || opts.jobs < 1) throw new TokusimError('bad-argument', '--jobs must be a positive integer', { actual: String(opts.jobs) });
  if (opts.jobs === 1) return crashtest(opts);
  const stopAtFirst = opts.stopAtFirst ?? true;
  const setup: WorkerSetup = {
    options: { seed: opts.seed, ...(opts.faults !== undefined ? { faults: opts.faults } : {}), ...(opts.maxOps !== undefined ? { maxOps: opts.maxOps } : {}), ...(opts.length !== undefined ? { length: opts.length } : {}), ...(opts.path !== undefined ? { path: opts.path } : {}), ...(opts.forkRate !== undefined ? { forkRate: opts.forkRate } : {}) },
    plantedBugs: plantedBugs(),
    fastChecksums: true,
    nodeHost: defaultEnvHost().processes !== undefined,
  };
  const p = program();
  const workers = Array.from({ length: opts.jobs }, () => ('url' in p ? new Worker(p.url, { execArgv: [], workerData: setup }) : new Worker(p.source, { eval: true, execArgv: [], workerData: setup })));
  const s = emptySummary();
  try {
    // Phase 1: random programs (a fixed count, or until the deadline).
    const endless = opts.until !== undefined;
    let firstFailing = Infinity;
    const programs = await runPhase(workers, 'program', (i) => i < firstFailing && (endless ? i === 0 || !opts.until!() : i < opts.runs), (r) => {
      if (stopAtFirst && r.violations.length > 0) firstFailing = Math.min(firstFailing, r.unit.index);
    }, (done) => opts.onStep?.({ phase: 'programs', done, total: endless ? done : opts.runs }));
    for (const r of programs) {
      addUnit(s, r);
      if (stopAtFirst && r.violations.length > 0) return s;
    }
    if (opts.exhaustive === true) {
      const total = workloadCount(opts.maxOps ?? 3);
      const workloads = await runPhase(workers, 'workload', (i) => i < total, () => undefined, (done) => opts.onStep?.({ phase: 'exhaustive', done, total }));
      for (const r of workloads) addUnit(s, r);
    }
    return s;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * Hand units kind/0, kind/1, ... to the workers while more(i) holds; returns the results of
 * the units handed out, in index order.
 */
async function runPhase(workers: Worker[], kind: CrashtestUnit['kind'], more: (i: number) => boolean, seen: (r: UnitResult) => void, progress: (done: number) => void): Promise<UnitResult[]> {
  const results: UnitResult[] = [];
  let next = 0;
  let done = 0;
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          const give = (): void => {
            if (!more(next)) {
              w.removeAllListeners('message');
              w.removeAllListeners('error');
              resolve();
              return;
            }
            w.postMessage({ kind, index: next++ } satisfies CrashtestUnit);
          };
          w.on('message', (m: { result: UnitResult } | { unit: CrashtestUnit; error: string }) => {
            if ('error' in m) {
              reject(new Error(`crashtest worker failed on ${m.unit.kind} ${m.unit.index}: ${m.error}`));
              return;
            }
            results[m.result.unit.index] = m.result;
            seen(m.result);
            progress(++done);
            give();
          });
          w.on('error', (err) => reject(new Error(`crashtest worker died: ${err.message}`)));
          give();
        }),
    ),
  );
  // Every unit below the highest index handed out was handed out, so the array has no holes.
  return results.filter((r) => r !== undefined);
}
