/**
 * Finds every reference log written by real PerconaFT under fixtures/perconaft (logs/,
 * logs_trimmed/ and the nested S7 runs) together with the real tokuft_logprint output.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'perconaft');

export interface FixtureLog {
  /** Path relative to FIXTURES, for test names. */
  name: string;
  path: string;
  /** Expected stdout of tokuft_logprint, stderr ('' if none) and exit code. */
  stdoutPath: string;
  stderrPath: string;
  exitCode: number;
}

function walk(dir: string, out: string[]): void {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
}

export function fixtureLogs(): FixtureLog[] {
  const all: string[] = [];
  walk(FIXTURES, all);
  const logs = all.filter((p) => /\/logs(_trimmed)?\/log\d+\.tokulog\d+$/.test(p)).sort();
  return logs.map((path) => {
    const runDir = dirname(dirname(path));
    const lp = join(runDir, 'logprint');
    const codes = readFileSync(join(lp, 'exit_codes.txt'), 'utf8');
    const m = new RegExp(`^${basename(path).replace('.', '\\.')} (\\d+)$`, 'm').exec(codes);
    if (!m) throw new Error(`no exit code for ${path}`);
    return {
      name: relative(FIXTURES, path),
      path,
      stdoutPath: join(lp, `${basename(path)}.txt`),
      stderrPath: join(lp, `${basename(path)}.err`),
      exitCode: Number(m[1]),
    };
  });
}

export function readOrEmpty(path: string): Buffer {
  return existsSync(path) ? readFileSync(path) : Buffer.alloc(0);
}

export interface EdgeCase {
  name: string;
  args: string[];
  stdinPath: string;
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** The printer_edge_cases table: command line, stdin file, expected outputs. */
export function edgeCases(): EdgeCase[] {
  const dir = join(FIXTURES, 'printer_edge_cases');
  const rows = readFileSync(join(dir, 'cases.tsv'), 'utf8').split('\n').filter((l) => l.trim() !== '');
  return rows.map((row) => {
    const [name, cmdline, code] = row.split('\t') as [string, string, string];
    const m = /^tokuft_logprint((?: [^<]+?)?) < (\S+)$/.exec(cmdline);
    if (!m) throw new Error(`cannot parse command line ${cmdline}`);
    const args = m[1]!.trim() === '' ? [] : m[1]!.trim().split(/\s+/);
    const stdinPath = m[2] === '/dev/null' ? '/dev/null' : join(dir, 'inputs', m[2]!);
    return {
      name,
      args,
      stdinPath,
      exitCode: Number(code),
      stdout: readOrEmpty(join(dir, 'outputs', `${name}.stdout`)),
      stderr: readOrEmpty(join(dir, 'outputs', `${name}.stderr`)),
    };
  });
}
