/**
 * README's reference tables, compared mechanically with the source so neither can drift:
 *  - "Exit codes": every error code string in src/ has a row and every row's code exists;
 *    every exit code a shipped tool can set (EXIT, literal exit statuses, exitCodeFor of every
 *    error kind) has a row, every row's exit code is one the tools use, and `tokusim --help`
 *    lists the same exit codes;
 *  - "Commands": every tokusim command and subcommand has a row, and every row names a command;
 *  - "Benchmarks": a row that points to a document (docs/engine.md, ...) agrees with it: its
 *    figures and its newest date are in that document.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, TokusimError, type ErrorKind } from '../../src/base/errors.js';
import { MachineHalted } from '../../src/storage/storage.js';
import { EXIT, exitCodeFor } from '../../tools/cli-support.js';
import { NESTED_COMMANDS } from '../../tools/commands/backup.js';
import { COMMANDS } from '../../tools/commands/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The lines of README's section `## title`, up to the next `## ` heading. */
function section(title: string): string[] {
  const start = README.indexOf(`\n## ${title}\n`);
  expect(start, `README section ${title}`).toBeGreaterThan(0);
  const lines = README.slice(start + 1).split('\n').slice(1);
  const end = lines.findIndex((l) => l.startsWith('## '));
  return end < 0 ? lines : lines.slice(0, end);
}

/** The rows of README's "Exit codes" table: exit code and error code (when the row has one). */
function exitRows(): Array<{ exit: number; code: string | undefined }> {
  const rows: Array<{ exit: number; code: string | undefined }> = [];
  for (const line of section('Exit codes')) {
    const m = /^\|\s*(\d+)\s*\|\s*(?:`(TOKUSIM_[A-Z_]+)`)?\s*\|/.exec(line);
    if (m) rows.push({ exit: Number(m[1]), code: m[2] });
  }
  return rows;
}

/** The TypeScript files under dir (recursively), as paths relative to the repository. */
function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.ES2022, true);
}

function visitAll(sf: ts.SourceFile, f: (n: ts.Node) => void): void {
  const visit = (n: ts.Node): void => {
    f(n);
    ts.forEachChild(n, visit);
  };
  visit(sf);
}

/** String literals of the form TOKUSIM_NAME in code (comments do not count), except `process.env[...]` keys. */
function errorCodeLiterals(files: string[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of files) {
    const sf = parse(file);
    visitAll(sf, (n) => {
      if (!ts.isStringLiteral(n) && !ts.isNoSubstitutionTemplateLiteral(n)) return;
      if (!/^TOKUSIM_[A-Z][A-Z_]*$/.test(n.text)) return;
      if (ts.isElementAccessExpression(n.parent)) return;
      found.set(n.text, `${file}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}`);
    });
  }
  return found;
}

/** The programs a user runs: tokusim and tdb-logprint with their commands (not bench, fuzz or demo). */
const SHIPPED_TOOLS = tsFiles('tools').filter((f) => !/^tools\/(bench|fuzz)\/|^tools\/demo\.ts$|^tools\/teach\/prebuild\.ts$/.test(f));

/**
 * Exit statuses named in the shipped tools: `EXIT.NAME`, and numeric literals given to
 * process.exit() or process.exitCode.
 */
function exitCodesInTools(): Map<number, string> {
  const found = new Map<number, string>();
  for (const file of SHIPPED_TOOLS) {
    const sf = parse(file);
    const at = (n: ts.Node): string => `${file}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
    visitAll(sf, (n) => {
      if (ts.isPropertyAccessExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'EXIT') {
        const v = (EXIT as Record<string, number>)[n.name.text];
        expect(v, `${at(n)}: EXIT.${n.name.text}`).toBeTypeOf('number');
        found.set(v!, at(n));
      }
      const literal = (e: ts.Expression | undefined): void => {
        if (e !== undefined && ts.isNumericLiteral(e)) found.set(Number(e.text), at(e));
      };
      if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken && n.left.getText() === 'process.exitCode') literal(n.right);
      if (ts.isCallExpression(n) && n.expression.getText() === 'process.exit') literal(n.arguments[0]);
    });
  }
  return found;
}

/** `tokusim backup push`, `tokusim status`, ...: every command line that names a command. */
const COMMAND_PATHS: string[] = [
  ...COMMANDS.map((c) => String(c.command).split(' ')[0]!),
  'completion',
  ...Object.entries(NESTED_COMMANDS).flatMap(([parent, subs]) => subs.map((c) => `${parent} ${String(c.command).split(' ')[0]!}`)),
].map((p) => `tokusim ${p}`);

describe("README's exit-code and command tables match the source", () => {
  // Scenario: a new error code in the source without a README row (or a README row for a code
  // that no longer exists) fails here.
  it('Scenario: the error codes in src/ are exactly the codes of the exit-code table', () => {
    const inSource = errorCodeLiterals(tsFiles('src'));
    const inReadme = new Set(exitRows().flatMap((r) => (r.code === undefined ? [] : [r.code])));
    expect([...inSource.keys()].filter((c) => !inReadme.has(c)).map((c) => `${c} (${inSource.get(c)})`), 'codes without a README row').toEqual([]);
    expect([...inReadme].filter((c) => !inSource.has(c)), 'README codes the source does not have').toEqual([]);
    // The literal scan sees every code: those of the error kinds and of MachineHalted.
    for (const code of Object.values(ERROR_CODES)) expect(inSource.has(code), code).toBe(true);
    expect(inSource.has(new MachineHalted('x').code)).toBe(true);
  });

  // Scenario: each error's code sits on the row of the exit code the CLI gives that error.
  it('Scenario: every error code is on the row of the exit code tokusim gives it', () => {
    const rows = exitRows();
    for (const kind of Object.keys(ERROR_CODES) as ErrorKind[]) {
      const err = new TokusimError(kind, 'x');
      expect(rows.find((r) => r.code === err.code && r.exit === exitCodeFor(err)), `${kind} -> ${err.code} exit ${exitCodeFor(err)}`).toBeDefined();
    }
    const halted = new MachineHalted('x');
    expect(rows.find((r) => r.code === halted.code && r.exit === exitCodeFor(halted))).toBeDefined();
  });

  // Scenario: an exit status a tool can set without a README row, or a README row for a status
  // no tool sets, fails here.
  it('Scenario: the exit codes the shipped tools use are exactly the exit codes of the table', () => {
    const inTools = exitCodesInTools();
    for (const kind of Object.keys(ERROR_CODES) as ErrorKind[]) inTools.set(exitCodeFor(new TokusimError(kind, 'x')), `exitCodeFor(${kind})`);
    const inReadme = new Set(exitRows().map((r) => r.exit));
    expect([...inTools.keys()].filter((c) => !inReadme.has(c)).map((c) => `${c} (${inTools.get(c)})`), 'exit codes without a README row').toEqual([]);
    expect([...inReadme].filter((c) => !inTools.has(c)), 'README exit codes no tool uses').toEqual([]);
    expect([...inReadme].sort((a, b) => a - b)).toEqual([...new Set(Object.values(EXIT))].sort((a, b) => a - b));
  });

  // Scenario: `tokusim --help` ends with the exit codes; they are the table's.
  it("Scenario: the exit codes in tokusim's --help epilog are the table's", () => {
    const sf = parse('tools/tokusim.ts');
    let epilog = '';
    visitAll(sf, (n) => {
      if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && n.expression.name.text === 'epilog' && ts.isStringLiteral(n.arguments[0]!)) epilog = n.arguments[0].text;
    });
    const listed = [...epilog.matchAll(/(\d+) \S/g)].map((m) => Number(m[1]));
    expect(listed).toEqual([...new Set(exitRows().map((r) => r.exit))].sort((a, b) => a - b));
  });

  // Scenario: a command without a row in README's command table (or a row naming a command
  // that does not exist) fails here.
  it('Scenario: the command table has a row for every command and subcommand, and no other', () => {
    const rows = section('Commands')
      .filter((l) => l.startsWith('| `'))
      .map((l) => /^\| `([^`]+)`/.exec(l)![1]!);
    const tokusimRows = rows.filter((r) => r.startsWith('tokusim '));
    for (const path of COMMAND_PATHS) expect(tokusimRows.some((r) => r === path || r.startsWith(`${path} `)), path).toBe(true);
    for (const r of tokusimRows) expect(COMMAND_PATHS.some((p) => r === p || r.startsWith(`${p} `)), r).toBe(true);
    expect(rows.filter((r) => !r.startsWith('tokusim ')).map((r) => r.split(' ')[0])).toEqual(['tdb-logprint']);
  });
});

/**
 * The figures of a benchmark row: ratios (`3.05x`, `1.54-3.05x`), rates and sizes (`169 MB/s`,
 * `80 MiB`) and every decimal number (`34.2 (15.6-35.6)`). Figures of an earlier run that the
 * row keeps for history (`Earlier (2026-11-22, ...): ...` to the end of the cell) are left out.
 */
function figuresOf(row: string): string[] {
  const current = row.replace(/Earlier \(20\d\d-\d\d-\d\d[^|]*/g, '');
  const figures = [...current.matchAll(/(?<![\w.])\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?x\b|(?<![\w.])\d+(?:\.\d+)? (?:MB\/s|MiB)\b|(?<![\w.])\d+\.\d+(?![\d.])/g)];
  return [...new Set(figures.map((m) => m[0]))];
}

/** A figure as the numbers it holds, each of which must appear in the document as a number. */
function numbersOf(figure: string): string[] {
  return [...figure.matchAll(/\d+(?:\.\d+)?/g)].map((m) => m[0]);
}

describe("README's benchmark figures agree with the documents they point to", () => {
  // Scenario: a figure re-measured in docs/engine.md but not in the README (or the other way)
  // fails here: each README row that names a document has every figure and its newest date there.
  it('Scenario: every figure and the newest date of a row that points to a doc appear in that doc', () => {
    const rows = section('Benchmarks').filter((l) => l.startsWith('| ') && !l.startsWith('| benchmark'));
    let checked = 0;
    const disagree: string[] = [];
    for (const row of rows) {
      const docs = [...new Set([...row.matchAll(/docs\/([\w-]+\.md)/g)].map((m) => m[1]!))];
      if (docs.length === 0) continue;
      const dates = [...row.replace(/Earlier \(20\d\d-\d\d-\d\d[^|]*/g, '').matchAll(/\b20\d\d-\d\d-\d\d\b/g)].map((m) => m[0]).sort();
      expect(dates.length, `a row without a date: ${row.slice(0, 60)}`).toBeGreaterThan(0);
      for (const doc of docs) {
        const text = readFileSync(join(ROOT, 'docs', doc), 'utf8');
        const numbers = new Set([...text.matchAll(/\d+(?:\.\d+)?/g)].map((m) => m[0]));
        if (!text.includes(dates[dates.length - 1]!)) disagree.push(`${doc}: no ${dates[dates.length - 1]} (${row.slice(0, 50)})`);
        for (const f of figuresOf(row)) {
          checked++;
          const absent = numbersOf(f).filter((n) => !numbers.has(n));
          if (absent.length > 0) disagree.push(`${doc}: ${f} (${row.slice(0, 50)})`);
        }
      }
    }
    expect(checked).toBeGreaterThan(50);
    expect(disagree).toEqual([]);
  });
});
