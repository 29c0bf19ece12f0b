import { spawn, spawnSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Env } from '../../src/node/env.js';
import { findLogFiles } from '../../src/log/names.js';
import { DEFAULT_FAULTS } from '../../src/sim/crashtest.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { COMMANDS } from '../../tools/commands/index.js';
import { NESTED_COMMANDS } from '../../tools/commands/backup.js';
import { BackupRepo } from '../../src/backup/repo.js';
import { LocalStore } from '../../src/backup/store.js';
import { environmentStatus } from '../../src/node/env.js';
import { runSynthLog } from '../../tools/commands/synth-log.js';
import { tokusimVersion } from '../../tools/cli-support.js';

// The built tools (`make test` builds first): these check the real entry points as processes.
const ROOT = join(import.meta.dirname, '..', '..');
const TOKUSIM = join(ROOT, 'dist', 'tools', 'tokusim.js');
const TDB_LOGPRINT = join(ROOT, 'dist', 'tools', 'tdb-logprint.js');
const OWN_VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const enc = (s: string) => new TextEncoder().encode(s);

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Run a tool with its stdout read by a reader that goes away like `head`: after the first
 * line (`closeAfterLines: 1`), or before the tool writes anything at all (`0`, which makes
 * even a one-line command write into a closed pipe). Without `closeAfterLines` stdout is
 * read to the end.
 */
function runTool(script: string, args: string[], opts: { closeAfterLines?: 0 | 1; stdinFile?: string; cwd?: string } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const fd = opts.stdinFile !== undefined ? openSync(opts.stdinFile, 'r') : undefined;
    const child = spawn(process.execPath, [script, ...args], { stdio: [fd ?? 'ignore', 'pipe', 'pipe'], cwd: opts.cwd ?? ROOT, env: { ...process.env, TOKUSIM_DEBUG: '' } });
    if (fd !== undefined) closeSync(fd);
    const out = child.stdout!;
    let stdout = '';
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    if (opts.closeAfterLines === 0) out.destroy();
    else {
      out.setEncoding('utf8').on('data', (s: string) => {
        if (opts.closeAfterLines === 1 && stdout.includes('\n')) return;
        stdout += s;
        if (opts.closeAfterLines === 1 && stdout.includes('\n')) out.destroy();
      });
    }
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** stderr without the progress display's plain lines (printed when work takes a few seconds). */
const withoutProgress = (s: string) => s.split('\n').filter((l) => !/^tokusim: [\w -]+: \d+\/\d+ /.test(l)).join('\n');
/** Recovery narration without its leading time stamps. */
const withoutStamps = (s: string) => s.replace(/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d /gm, '');

let work: string;
let logDir: string;
let envDir: string;
let crashedA: string;
let crashedB: string;
let repoDir: string;

beforeAll(async () => {
  expect(existsSync(TOKUSIM), `${TOKUSIM} missing: run make build`).toBe(true);
  work = mkdtempSync(join(tmpdir(), 'tokusim-cli-proc-'));
  logDir = join(work, 'synth');
  await runSynthLog({ out: logDir, sizeMb: 2, valueBytes: 100, seed: 4, lgMaxMb: 100 }, new NodeStorage());
  envDir = join(work, 'env');
  const env = await Env.open(envDir, { checkpointPeriodMs: 0, owner: 'proc' });
  const d = await env.createDictionary('t');
  for (let i = 0; i < 20; i++) await env.put(d, enc(`k${i}`), enc(`v${i}`));
  await env.close();
  // A crashed environment (an open transaction, no shutdown record), in two identical copies.
  crashedA = join(work, 'crashed-a');
  const c = await Env.open(crashedA, { checkpointPeriodMs: 0, owner: 'proc' });
  const t = await c.createDictionary('t');
  await c.put(t, enc('a'), enc('1'));
  const open = c.begin();
  await open.put(t, enc('b'), enc('2'));
  await c.put(t, enc('c'), enc('3')); // a later commit makes the open transaction's write durable
  c.abandon();
  rmSync(join(crashedA, '__tokusim_env_lock'));
  crashedB = join(work, 'crashed-b');
  cpSync(crashedA, crashedB, { recursive: true });
  // A backup repository with two backups and the closed log files archived.
  repoDir = join(work, 'repo');
  const b = await Env.open(join(work, 'backed-up'), { checkpointPeriodMs: 0, owner: 'proc' });
  const bt = await b.createDictionary('t');
  for (let i = 0; i < 20; i++) await b.put(bt, enc(`k${i}`), enc(`v${i}`));
  await b.backup(new BackupRepo(new LocalStore(new NodeStorage(), repoDir)), {});
  await b.put(bt, enc('more'), enc('1'));
  await b.backup(new BackupRepo(new LocalStore(new NodeStorage(), repoDir)), {});
  await b.close();
});

/** Every `tokusim ...` command line that names a command: the top-level ones and those under backup and log. */
const ALL_COMMAND_PATHS: string[][] = [
  ...COMMANDS.map((c) => [String(c.command).split(' ')[0]!]),
  ['completion'],
  ...Object.entries(NESTED_COMMANDS).flatMap(([parent, subs]) => subs.map((c) => [parent, String(c.command).split(' ')[0]!])),
];

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('a reader that goes away ends every command quietly (exit 0, nothing on stderr)', () => {
  // Scenario: `tokusim logprint LOGDIR | head -1` and friends on outputs far larger than a pipe
  // holds: the reader leaves after one line while the tool is still writing.
  const bigOutputs: Array<{ name: string; args: () => string[] }> = [
    { name: 'logprint', args: () => ['logprint', logDir] },
    { name: 'logprint --json', args: () => ['logprint', logDir, '--json'] },
    { name: 'logprint --type', args: () => ['logprint', logDir, '--type', 'enq_insert'] },
    // About 1.2 MB of node text, written in buffered chunks that wait for the pipe.
    { name: 'ftdump (full dump)', args: () => ['ftdump', join(ROOT, 'fixtures', 'perconaft', 'S8_node_formats', 'dicts', 'zlib_db_2_3_1d.tokudb')] },
    { name: 'teach basic --all', args: () => ['teach', 'basic', '--all'] },
  ];
  for (const c of bigOutputs) {
    it(`Scenario: tokusim ${c.name} piped into a reader that closes after the first line`, async () => {
      const r = await runTool(TOKUSIM, c.args(), { closeAfterLines: 1 });
      expect(r.stdout.split('\n')[0]!.length).toBeGreaterThan(0);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    });
  }

  it('Scenario: tdb-logprint < FILE piped into a reader that closes after the first line', async () => {
    const file = (await findLogFiles(new NodeStorage(), logDir))[0]!.path;
    const r = await runTool(TDB_LOGPRINT, [], { closeAfterLines: 1, stdinFile: file });
    expect(r.stdout.startsWith('tokulog v.29\n')).toBe(true);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  // Scenario: replay narrates on stderr by design; a closed stdout adds nothing to that.
  it('Scenario: tokusim replay --dump piped into a reader that closes after the first line', async () => {
    const full = await runTool(TOKUSIM, ['replay', logDir, '--dump']);
    expect(full.code).toBe(0);
    expect(full.stdout.split('\n').length).toBeGreaterThan(1000);
    const r = await runTool(TOKUSIM, ['replay', logDir, '--dump'], { closeAfterLines: 1 });
    expect(r.stdout.split('\n')[0]).toBe(full.stdout.split('\n')[0]);
    expect(withoutProgress(r.stderr)).toBe(withoutProgress(full.stderr));
    expect(r.code).toBe(0);
  });

  // Scenario: commands with little output, whose reader has gone before they write anything.
  const smallOutputs: Array<{ name: string; args: () => string[] }> = [
    { name: 'status', args: () => ['status', envDir] },
    { name: 'status --json', args: () => ['status', envDir, '--json'] },
    { name: 'ftdump', args: () => ['ftdump', join(envDir, 'tokudb.directory')] },
    { name: 'ftdump --json', args: () => ['ftdump', join(envDir, 'tokudb.directory'), '--json'] },
    { name: 'crashtest', args: () => ['crashtest', '--runs', '2'] },
    { name: 'crashtest --json', args: () => ['crashtest', '--runs', '1', '--json'] },
    { name: 'crashtest --jobs 2', args: () => ['crashtest', '--runs', '2', '--jobs', '2'] },
    { name: 'crashtest --plant-bug list', args: () => ['crashtest', '--plant-bug', 'list'] },
    { name: 'synth-log', args: () => ['synth-log', '--out', join(work, 'synth-closed'), '--size-mb', '0.5'] },
    { name: 'recover (nothing to do)', args: () => ['recover', envDir] },
    { name: 'recover --json', args: () => ['recover', envDir, '--json'] },
    { name: '--help', args: () => ['--help'] },
    { name: 'status -h', args: () => ['status', '-h'] },
    { name: '--version', args: () => ['--version'] },
    { name: 'completion', args: () => ['completion'] },
    { name: 'completion --help', args: () => ['completion', '--help'] },
    { name: 'help', args: () => ['help'] },
    { name: 'logprint --stats', args: () => ['logprint', envDir, '--stats'] },
    { name: 'extract', args: () => ['extract', envDir] },
    { name: 'extract --json', args: () => ['extract', envDir, '--json'] },
    { name: 'backup push', args: () => ['backup', 'push', join(work, 'backed-up'), '--to', join(work, 'repo-2')] },
    { name: 'log archive', args: () => ['log', 'archive', join(work, 'backed-up'), '--to', join(work, 'repo-2')] },
    { name: 'teach --list', args: () => ['teach', '--list'] },
    { name: 'backup list', args: () => ['backup', 'list', repoDir] },
    { name: 'backup list --json', args: () => ['backup', 'list', repoDir, '--json'] },
    { name: 'backup verify', args: () => ['backup', 'verify', repoDir] },
    { name: 'backup verify --json', args: () => ['backup', 'verify', repoDir, '--json'] },
    { name: 'backup delete (dry run)', args: () => ['backup', 'delete', repoDir, 'retain', '1'] },
    { name: 'backup --help', args: () => ['backup', '--help'] },
    { name: 'backup push -h', args: () => ['backup', 'push', '-h'] },
  ];
  // extract narrates on stderr by design: with its reader gone it prints no more than a full run.
  const narrating = new Set(['extract', 'extract --json']);
  for (const c of smallOutputs) {
    it(`Scenario: tokusim ${c.name} with its stdout reader already gone`, async () => {
      const r = await runTool(TOKUSIM, c.args(), { closeAfterLines: 0 });
      if (narrating.has(c.name)) {
        const full = await runTool(TOKUSIM, c.args());
        expect(full.code).toBe(0);
        const lines = new Set(withoutProgress(full.stderr).split('\n'));
        for (const l of withoutProgress(r.stderr).split('\n')) expect(lines.has(l), l).toBe(true);
      } else {
        expect(withoutProgress(r.stderr)).toBe('');
      }
      expect(r.code).toBe(0);
    });
  }

  it('Scenario: tdb-logprint with its stdout reader already gone', async () => {
    const file = (await findLogFiles(new NodeStorage(), logDir))[0]!.path;
    const r = await runTool(TDB_LOGPRINT, ['3'], { closeAfterLines: 0, stdinFile: file });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  // Scenario: recover's reader is gone; recovery and the clean close still complete (stdout
  // is written only after the close), and the narration is the same as with a reader.
  it('Scenario: tokusim recover on a crashed environment with its stdout reader gone still recovers and closes', async () => {
    const full = await runTool(TOKUSIM, ['recover', crashedB]);
    expect(full.code).toBe(0);
    expect(full.stdout).toMatch(/1 transaction\(s\) aborted/);
    const r = await runTool(TOKUSIM, ['recover', crashedA], { closeAfterLines: 0 });
    expect(r.code).toBe(0);
    expect(withoutStamps(withoutProgress(r.stderr)).replaceAll(crashedA, 'DIR')).toBe(withoutStamps(withoutProgress(full.stderr)).replaceAll(crashedB, 'DIR'));
    expect(existsSync(join(crashedA, '__tokusim_env_lock'))).toBe(false);
    expect(await environmentStatus(new NodeStorage(), crashedA)).toMatch(/clean shutdown: no recovery needed/);
  });
});

describe('version, help and completion', () => {
  // Scenario: tokusim runs inside another project (its cwd has that project's package.json);
  // --version and -V still print tokusim's own version.
  it("Scenario: --version and -V print tokusim's version, not the version of the project it runs in", async () => {
    const host = join(work, 'host-project');
    mkdirSync(host, { recursive: true });
    writeFileSync(join(host, 'package.json'), JSON.stringify({ name: 'host-project', version: '97.3.1' }));
    for (const flag of ['--version', '-V']) {
      const r = await runTool(TOKUSIM, [flag], { cwd: host });
      expect(r.stdout).toBe(`${OWN_VERSION}\n`);
      expect(r.code).toBe(0);
    }
  });

  // Scenario: tokusim installed as a dependency: the version comes from the package.json of
  // the package the module belongs to, found by walking up from the module's own file.
  it('Scenario: tokusimVersion walks up from its module file to the tokusim package.json', () => {
    const root = join(work, 'installed');
    const pkg = join(root, 'node_modules', 'tokusim');
    mkdirSync(join(pkg, 'dist', 'tools'), { recursive: true });
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'app', version: '5.0.0' }));
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'tokusim', version: '3.4.5' }));
    writeFileSync(join(pkg, 'dist', 'package.json'), JSON.stringify({ type: 'module' }));
    expect(tokusimVersion(join(pkg, 'dist', 'tools', 'cli-support.js'))).toBe('3.4.5');
    expect(tokusimVersion(join(ROOT, 'tools', 'cli-support.ts'))).toBe(OWN_VERSION);
  });

  // Scenario: every subcommand's help (those under backup and log, and completion, included)
  // shows usage examples of that very command, and -h is the same as --help.
  for (const path of ALL_COMMAND_PATHS) {
    const name = path.join(' ');
    it(`Scenario: tokusim ${name} --help has examples and -h prints the same`, async () => {
      const long = await runTool(TOKUSIM, [...path, '--help']);
      expect(long.code).toBe(0);
      expect(long.stdout.startsWith(`tokusim ${name}`), long.stdout.slice(0, 80)).toBe(true);
      expect(long.stdout).toMatch(new RegExp(`\\nExamples:\\n {2}tokusim ${name}( |\\n)`));
      const short = await runTool(TOKUSIM, [...path, '-h']);
      expect(short.stdout).toBe(long.stdout);
    });
  }

  // Scenario: a help line that names an option or a positional without saying what it is
  // leaves the user guessing: every one in every help has a description.
  it('Scenario: every option and positional in every help is described', async () => {
    for (const path of [[], ...ALL_COMMAND_PATHS]) {
      const r = await runTool(TOKUSIM, [...path, '--help']);
      expect(r.code).toBe(0);
      // A line holding only the name and yargs' type tags: `  --to   [string] [required]`.
      const bare = r.stdout.split('\n').filter((l) => /^ {2,6}(-\w, )?(--)?[\w-]+\s+(\[[^\]]+\]\s*)+$/.test(l));
      expect(bare, path.join(' ')).toEqual([]);
    }
  });

  it('Scenario: a command group without its subcommand names the subcommands (exit 2)', async () => {
    for (const [parent, subs] of Object.entries(NESTED_COMMANDS)) {
      const r = await runTool(TOKUSIM, [parent]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      for (const c of subs) expect(r.stderr).toContain(String(c.command).split(' ')[0]!);
    }
  });

  it("Scenario: every command's one-line description starts in lower case, like yargs' own", () => {
    for (const c of COMMANDS) {
      const d = String(c.describe);
      expect(d[0], d).toBe(d[0]!.toLowerCase());
    }
  });

  // Scenario: every option line of every command's help, yargs' own --help and --version
  // included, describes the option starting in lower case (or with an acronym such as I/O), so
  // the help reads as one voice.
  it('Scenario: every option description in every help starts in lower case', async () => {
    for (const cmd of [[], ...ALL_COMMAND_PATHS]) {
      const r = await runTool(TOKUSIM, [...cmd, '--help']);
      expect(r.code).toBe(0);
      const options = r.stdout.split('\n').filter((l) => /^\s+(-\w, )?--[\w-]+\s{2,}\S/.test(l));
      expect(options.length, cmd.join(' ')).toBeGreaterThan(1);
      for (const line of options) {
        const text = line.replace(/^\s+(-\w, )?--[\w-]+\s+/, '');
        const acronym = /^[A-Z0-9/]{2,}\b/.test(text); // I/O, LSN, JSON
        if (!acronym) expect(text[0], `${cmd.join(' ')}: ${line}`).toBe(text[0]!.toLowerCase());
      }
    }
  });

  // Scenario: the crashtest help names the faults the code actually injects by default.
  it('Scenario: crashtest --help states the default fault list of the code', async () => {
    const order = ['dropUnsynced', 'tornWrites', 'reorder', 'loseDirEntries'] as const;
    const expected = order.filter((n) => DEFAULT_FAULTS[n] === true).join(',') || 'none';
    const r = await runTool(TOKUSIM, ['crashtest', '--help']);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain(`(default: ${expected})`);
  });

  // Scenario: `tokusim completion` prints yargs' shell script; the script's callback
  // completes option names of a subcommand.
  it('Scenario: tokusim completion prints a completion script that completes options', async () => {
    const script = await runTool(TOKUSIM, ['completion']);
    expect(script.code).toBe(0);
    expect(script.stdout).toContain('--get-yargs-completions');
    expect(script.stdout).toContain('tokusim');
    const words = await runTool(TOKUSIM, ['--get-yargs-completions', 'tokusim', 'status', '--']);
    expect(words.stdout.split('\n')).toContain('--json');
    const cmds = await runTool(TOKUSIM, ['--get-yargs-completions', 'tokusim', '']);
    expect(cmds.stdout.split('\n')).toEqual(expect.arrayContaining(['status', 'crashtest', 'completion', 'backup', 'log']));
    const subs = await runTool(TOKUSIM, ['--get-yargs-completions', 'tokusim', 'backup', '']);
    expect(subs.stdout.split('\n')).toEqual(expect.arrayContaining(['push', 'fetch', 'list', 'verify', 'delete']));
    const pushOpts = await runTool(TOKUSIM, ['--get-yargs-completions', 'tokusim', 'backup', 'push', '--']);
    expect(pushOpts.stdout.split('\n')).toEqual(expect.arrayContaining(['--to', '--delta-max-steps']));
    // --help on completion is help, not the script.
    const help = await runTool(TOKUSIM, ['completion', '--help']);
    expect(help.stdout).not.toContain('--get-yargs-completions');
    expect(help.stdout).toMatch(/^tokusim completion\n/);
  });
});

describe('status on something that is not an environment', () => {
  // Scenario: a missing directory, an empty one, one holding unrelated files and a plain file
  // are refused with exit 9 and one line; nothing is created.
  it('Scenario: status on a missing, an empty and an unrelated directory, or a file, exits 9 with one line', async () => {
    const missing = join(work, 'no-such-env');
    const empty = join(work, 'empty-dir');
    mkdirSync(empty);
    const other = join(work, 'other-dir');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'hello');
    const file = join(other, 'notes.txt');
    for (const dir of [missing, empty, other, file]) {
      const r = await runTool(TOKUSIM, ['status', dir]);
      expect(r.code, dir).toBe(9);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`^tokusim: ${dir}: not a tokusim environment: [^\\n]+\\n$`));
      const j = await runTool(TOKUSIM, ['status', dir, '--json']);
      expect(j.code).toBe(9);
      expect(j.stdout).toBe('');
    }
    expect(existsSync(missing)).toBe(false);
    expect(spawnSync('ls', ['-A', empty]).stdout.toString()).toBe('');
  });
});
