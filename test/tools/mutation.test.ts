import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURE_ROOT } from '../format/ft-fixtures-helper.js';
import { buildCorpus, describeFailure, fuzzRun, type CorpusEnv, type RunResult } from '../../tools/fuzz/fuzz.js';
import { MUTATIONS, type MutationName } from '../../tools/fuzz/mutations.js';
import { DICT_COMMANDS, ENV_COMMANDS, LOG_COMMANDS, type CommandName } from '../../tools/fuzz/commands.js';

// The bounded, seeded copy of tools/fuzz/mutate-fuzz.ts: every log and dictionary file of
// every reference run and of two tokusim-made environments is mutated (checksum-preserving
// field changes, bit flips, truncation, garbage) and every command that reads it is run on a
// copy. Deterministic: the seed of each run is fixed by the file's position in the corpus.

const DIST_TOOLS = join(import.meta.dirname, '..', '..', 'dist', 'tools');
/** A command that has not exited after this long is a hang (generous: the machine is shared). */
const TIMEOUT_MS = 60_000;

let work: string;
let corpus: CorpusEnv[];
const results: RunResult[] = [];

beforeAll(async () => {
  // Memory-backed when the machine has it: recover fsyncs, and the copies are many and small.
  work = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'tokusim-mutation-'));
  corpus = await buildCorpus(FIXTURE_ROOT, join(work, 'corpus'));
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** The mutation class for the i-th file of a kind: the classes in turn, field changes twice as often. */
function classFor(kind: 'log' | 'dict', i: number): MutationName {
  const field = kind === 'log' ? MUTATIONS.log : MUTATIONS.dict;
  const order: MutationName[] = [...field, MUTATIONS.blind[0], ...field, MUTATIONS.blind[1], ...field, MUTATIONS.blind[2]];
  return order[i % order.length]!;
}

describe('hostile input: every command on mutated copies of every fixture', () => {
  // Property: for every mutated log or dictionary, every command that reads it exits within
  // its time limit, not by a signal, with a documented exit code and no internal error, and
  // reports bad input on one stderr line without a stack trace.
  it('Property: no abort, no internal error, no hang, documented exit codes, one-line errors', async () => {
    let seed = 1;
    const counts = { log: 0, dict: 0 };
    for (const env of corpus) {
      for (const f of env.files) {
        const i = counts[f.kind]++;
        // A sample also runs as processes of the built CLI (native aborts, real stderr), and
        // recover (which checkpoints) runs on every log and every third dictionary.
        const spawn: CommandName[] = f.kind === 'log' && i === 3 ? ['tdb-logprint', 'logprint', 'replay --dump', 'extract'] : f.kind === 'dict' && i === 7 ? ['ftdump --header', 'ftdump --both-headers', 'ftdump --summary', 'recover', 'extract --json'] : [];
        const skipRecover = f.kind === 'dict' && i % 3 !== 0 && i !== 7;
        const r = await fuzzRun(seed++, corpus, work, { timeoutMs: TIMEOUT_MS, distTools: DIST_TOOLS }, { env: env.name, file: f.name, mutation: classFor(f.kind, i), spawn, skipRecover });
        results.push(r);
      }
    }
    expect(results.flatMap((r) => r.failures).map(describeFailure)).toEqual([]);
  });

  it('Scenario: the runs covered every environment, file, command and mutation class, and damage was reported', () => {
    expect(existsSync(join(DIST_TOOLS, 'tokusim.js')), `${DIST_TOOLS}/tokusim.js missing: run make build`).toBe(true);
    expect(corpus.map((e) => e.name)).toEqual(expect.arrayContaining(['S1_basic', 'S4_rollover', 'S7_all_types_crash', 'tokusim_clean', 'tokusim_crashed']));
    expect(results.length).toBe(corpus.reduce((n, e) => n + e.files.length, 0));
    const commands = new Set(results.flatMap((r) => r.outcomes.map((o) => o.command)));
    expect([...commands].sort()).toEqual([...LOG_COMMANDS, ...DICT_COMMANDS, ...ENV_COMMANDS].sort());
    const classes = new Set(results.map((r) => r.mutation.split(':')[0]));
    expect([...classes].sort()).toEqual([...MUTATIONS.blind, ...MUTATIONS.log, ...MUTATIONS.dict].sort());
    expect(results.some((r) => r.outcomes.some((o) => o.how === 'process'))).toBe(true);
    // The mutations are not harmless: each reading command reported damage at least once.
    for (const c of [...LOG_COMMANDS, ...DICT_COMMANDS, 'recover', 'extract', 'extract --json'] as const) {
      expect(results.some((r) => r.outcomes.some((o) => o.command === c && o.code !== 0)), c).toBe(true);
    }
  });
});
