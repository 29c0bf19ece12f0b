/**
 * The long hostile-input fuzzer (not run in CI; the suite runs a bounded copy in
 * test/tools/mutation.test.ts). After `make build`:
 *
 *   node dist/tools/fuzz/mutate-fuzz.js [--seed S] [--runs N] [--spawn-share P] [--timeout-ms T]
 *
 * Runs N seeded runs (seeds S, S+1, ...): each mutates one log or dictionary file of the
 * corpus (tools/fuzz/fuzz.ts) and runs every command that reads it, in-process and, for a
 * share P of the runs, also as real processes of the built CLI (which sees native aborts and
 * stack traces). Prints one line per failure and a summary; exits 6 when anything failed.
 * Work files live in a temporary directory that is removed at the end.
 */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildCorpus, describeFailure, fuzzRun } from './fuzz.js';
import { EXIT } from '../cli-support.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v)) {
    process.stderr.write(`mutate-fuzz: ${name} needs a number\n`);
    process.exit(EXIT.USAGE);
  }
  return v;
}

/** The repository root: the nearest parent holding fixtures/perconaft. */
function repoRoot(): string {
  let d = import.meta.dirname;
  while (!existsSync(join(d, 'fixtures', 'perconaft'))) {
    const up = dirname(d);
    if (up === d) throw new Error('fixtures/perconaft not found above the script');
    d = up;
  }
  return d;
}

const seed = arg('--seed', 1);
const runs = arg('--runs', 1000);
const spawnShare = arg('--spawn-share', 0.05);
const timeoutMs = arg('--timeout-ms', 20_000);
const root = repoRoot();
const work = mkdtempSync(join(tmpdir(), 'tokusim-mutate-fuzz-'));
let failures = 0;
let commandRuns = 0;
try {
  const corpus = await buildCorpus(join(root, 'fixtures', 'perconaft'), join(work, 'corpus'));
  const distTools = join(root, 'dist', 'tools');
  const codes = new Map<string, number>();
  for (let s = seed; s < seed + runs; s++) {
    const r = await fuzzRun(s, corpus, work, { timeoutMs, spawnShare, distTools });
    commandRuns += r.outcomes.length;
    for (const o of r.outcomes) {
      const k = `${o.command}=${o.code ?? 'none'}`;
      codes.set(k, (codes.get(k) ?? 0) + 1);
    }
    for (const f of r.failures) {
      failures++;
      process.stdout.write(`${describeFailure(f)}\n    ${f.stderr.split('\n')[0] ?? ''}\n`);
    }
    if ((s - seed + 1) % 100 === 0) process.stderr.write(`mutate-fuzz: ${s - seed + 1}/${runs} runs, ${commandRuns} command runs, ${failures} failures\n`);
  }
  process.stdout.write(`mutate-fuzz: seeds ${seed}..${seed + runs - 1}: ${runs} runs, ${commandRuns} command runs, ${failures} failures\n`);
  process.stdout.write(`exit codes: ${[...codes].sort().map(([k, n]) => `${k}:${n}`).join(' ')}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exitCode = failures > 0 ? EXIT.VIOLATION : EXIT.OK;
