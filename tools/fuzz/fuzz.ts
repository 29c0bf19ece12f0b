/**
 * The hostile-input fuzzer's core, shared by the script (tools/fuzz/mutate-fuzz.ts) and the
 * bounded test in the suite: a corpus of environments (every PerconaFT reference run under
 * fixtures/perconaft and small tokusim-made environments, one cleanly closed and one crashed),
 * and one seeded run: pick a log or dictionary file, mutate it (tools/fuzz/mutations.ts) in a
 * fresh copy of its environment, run every command that reads it, judge each outcome.
 *
 * Invariants:
 *  - A run is a pure function of its seed and the corpus: the file, the mutation and the
 *    commands run are all drawn from Prng(seed). The tokusim-made environments are built on a
 *    virtual clock, so their bytes are the same on every build (the corpus is fixed too).
 *  - Nothing outside the work directory the caller gives is written; each run's copy is
 *    removed when the run ends.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Env } from '../../src/node/env.js';
import { Prng } from '../../src/base/prng.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { DICT_COMMANDS, ENV_COMMANDS, LOG_COMMANDS, judge, runAsProcess, runInProcess, type CommandName, type Outcome } from './commands.js';
import { mutate, type FileKind, type MutationName } from './mutations.js';

export interface CorpusEnv {
  name: string;
  /** A directory holding the environment's log and dictionary files side by side. */
  dir: string;
  files: Array<{ name: string; kind: FileKind; bytes: Uint8Array }>;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function kindOf(name: string): FileKind | undefined {
  if (/^log\d+\.tokulog\d+$/.test(name)) return 'log';
  if (name.endsWith('.tokudb') || /^tokudb\.(directory|environment|rollback)$/.test(name)) return 'dict';
  return undefined;
}

function envFromDir(name: string, dir: string): CorpusEnv {
  const files = readdirSync(dir)
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort()
    .flatMap((f) => {
      const kind = kindOf(f);
      return kind === undefined ? [] : [{ name: f, kind, bytes: new Uint8Array(readFileSync(join(dir, f))) }];
    });
  return { name, dir, files };
}

/** Every PerconaFT run (a folder with logs/ and dicts/), merged into one directory each. */
function referenceEnvs(fixtureRoot: string, into: string): CorpusEnv[] {
  const out: CorpusEnv[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir).sort()) {
      const p = join(dir, e);
      if (statSync(p).isDirectory() && e !== 'logs' && e !== 'dicts' && e !== 'logs_trimmed') walk(p);
    }
    if (existsSync(join(dir, 'logs')) && existsSync(join(dir, 'dicts'))) {
      const name = relative(fixtureRoot, dir).replaceAll('/', '_');
      const env = join(into, name);
      mkdirSync(env, { recursive: true });
      cpSync(join(dir, 'logs'), env, { recursive: true });
      cpSync(join(dir, 'dicts'), env, { recursive: true });
      out.push(envFromDir(name, env));
    }
  };
  walk(fixtureRoot);
  return out;
}

/** A small tokusim environment: two dictionaries with a descriptor-free tree each, checkpointed. */
async function tokusimEnv(dir: string, crashed: boolean): Promise<void> {
  // A virtual clock keeps the timestamps in headers and log entries, and so the bytes, the same on every build.
  const env = await Env.open(dir, { checkpointPeriodMs: 0, logPreallocate: 0, owner: 'fuzz', clock: new VirtualClock() });
  const a = await env.createDictionary('alpha');
  const b = await env.createDictionary('beta');
  for (let i = 0; i < 120; i++) await env.put(i % 3 === 0 ? b : a, enc(`key-${String(i).padStart(4, '0')}`), enc(`value-${i}-${'x'.repeat(i % 17)}`));
  await env.checkpoint();
  const t = env.begin();
  for (let i = 0; i < 10; i++) await t.put(a, enc(`late-${i}`), enc(`v${i}`));
  if (crashed) {
    await env.put(b, enc('after'), enc('checkpoint'));
    env.abandon();
    rmSync(join(dir, '__tokusim_env_lock'), { force: true });
    return;
  }
  await t.commit();
  await env.close();
}

/** Build the corpus under `into` (created; the caller removes it). */
export async function buildCorpus(fixtureRoot: string, into: string): Promise<CorpusEnv[]> {
  mkdirSync(into, { recursive: true });
  const envs = referenceEnvs(fixtureRoot, join(into, 'reference'));
  for (const crashed of [false, true]) {
    const name = crashed ? 'tokusim_crashed' : 'tokusim_clean';
    const dir = join(into, name);
    mkdirSync(dir, { recursive: true });
    await tokusimEnv(dir, crashed);
    envs.push(envFromDir(name, dir));
  }
  return envs;
}

/** Fixes a run's choices instead of drawing them (the suite's test covers every file this way). */
export interface RunChoice {
  env: string;
  file: string;
  mutation?: MutationName;
  /** Run the commands (or these of them) as processes of the built CLI too. */
  spawn?: boolean | CommandName[];
  /** Leave out recover (the slowest command: it checkpoints, with fsyncs). */
  skipRecover?: boolean;
}

export interface RunOptions {
  /** Per-command time limit. */
  timeoutMs: number;
  /** When set, this share of runs (0..1) also runs each command as a process of the built CLI. */
  spawnShare?: number;
  /** dist/tools of a build, for spawned runs. */
  distTools?: string;
  /** Only these commands (default: all that apply to the file). */
  commands?: CommandName[];
}

export interface Failure {
  seed: number;
  env: string;
  file: string;
  mutation: string;
  command: CommandName;
  how: 'in-process' | 'process';
  problem: string;
  stderr: string;
}

export interface RunResult {
  env: string;
  file: string;
  mutation: string;
  outcomes: Array<Outcome & { how: 'in-process' | 'process' }>;
  failures: Failure[];
}

/** One seeded run in a fresh copy of an environment under workDir. */
export async function fuzzRun(seed: number, corpus: CorpusEnv[], workDir: string, opts: RunOptions, choice?: RunChoice): Promise<RunResult> {
  const rng = new Prng(seed);
  let env: CorpusEnv;
  let target: CorpusEnv['files'][number];
  if (choice !== undefined) {
    env = corpus.find((e) => e.name === choice.env)!;
    target = env.files.find((f) => f.name === choice.file)!;
  } else {
    // Logs and dictionaries equally often (dictionaries outnumber logs in every environment).
    const kind: FileKind = rng.chance(0.5) ? 'log' : 'dict';
    const withKind = corpus.filter((e) => e.files.some((f) => f.kind === kind));
    env = withKind[rng.int(withKind.length)]!;
    const files = env.files.filter((f) => f.kind === kind);
    target = files[rng.int(files.length)]!;
  }
  const m = mutate(target.bytes, target.kind, rng, choice?.mutation);
  const spawnDrawn = opts.spawnShare !== undefined && rng.float() < opts.spawnShare;
  const spawnWanted = choice?.spawn ?? spawnDrawn;
  const spawns = (c: CommandName): boolean => opts.distTools !== undefined && (Array.isArray(spawnWanted) ? spawnWanted.includes(c) : spawnWanted);
  const commands = [...(target.kind === 'log' ? LOG_COMMANDS : DICT_COMMANDS), ...ENV_COMMANDS].filter((c) => (opts.commands === undefined || opts.commands.includes(c)) && !(choice?.skipRecover && c === 'recover'));
  const result: RunResult = { env: env.name, file: target.name, mutation: m.desc, outcomes: [], failures: [] };
  for (const command of commands) {
    const hows: Array<'in-process' | 'process'> = spawns(command) ? ['in-process', 'process'] : ['in-process'];
    for (const how of hows) {
      // Each command gets its own copy: recover changes the directory it runs on.
      const dir = join(workDir, `run-${seed}`);
      rmSync(dir, { recursive: true, force: true });
      cpSync(env.dir, dir, { recursive: true });
      const file = join(dir, target.name);
      writeFileSync(file, m.bytes);
      try {
        const o = how === 'in-process'
          ? await runInProcess(command, { file, dir }, () => m.bytes, opts.timeoutMs)
          : await runAsProcess(opts.distTools!, command, { file, dir }, opts.timeoutMs);
        result.outcomes.push({ ...o, how });
        const problem = judge(o);
        if (problem !== undefined) {
          result.failures.push({ seed, env: env.name, file: target.name, mutation: m.desc, command, how, problem, stderr: o.stderr.slice(0, 2000) });
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  return result;
}

/** One line per failure, with everything needed to replay it. */
export function describeFailure(f: Failure): string {
  return `seed ${f.seed}: ${f.env}/${f.file} [${f.mutation}] ${f.command} (${f.how}): ${f.problem}`;
}
