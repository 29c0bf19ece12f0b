import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// docs/READING.md points a reader at code by name, never by line: a backticked path followed by
// backticked names, e.g. `src/checkpoint/checkpointer.ts` `Checkpointer.beginCheckpoint`.
// `A.b` means b is declared inside the body of A (a class member, or a local of a function).
// These tests keep every such reference true, so the guide cannot rot silently.

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (rel: string): string => readFileSync(join(root, rel), 'utf8');

interface Reference {
  path: string;
  name: string;
}

const NAME = String.raw`[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*`;
const PATH = String.raw`(?:src|tools|test)/[\w./-]+\.ts`;

/** Every `path` `Name` [`Name` ...] reference of a markdown text, in order. */
function parseReferences(md: string): Reference[] {
  const refs: Reference[] = [];
  // Names follow the path separated by blanks, a line break included (the guide is wrapped).
  const re = new RegExp(String.raw`\`(${PATH})\`((?:\s+\`${NAME}\`)+)`, 'g');
  for (const m of md.matchAll(re)) {
    for (const n of m[2]!.matchAll(new RegExp(String.raw`\`(${NAME})\``, 'g'))) refs.push({ path: m[1]!, name: n[1]! });
  }
  return refs;
}

function escape(s: string): string {
  return s.replace(/[$]/g, '\\$');
}

/** Whether `line` declares `name` (a function, class, type, variable, method, accessor or field). */
function declaresOn(line: string, name: string): boolean {
  const id = escape(name);
  const keyword = new RegExp(String.raw`^\s*(?:export\s+)?(?:default\s+)?(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?(?:function\*?|class|interface|type|enum|const|let|var)\s+${id}\b`);
  const method = new RegExp(String.raw`^\s*(?:(?:public|private|protected|static|readonly|async|override|get|set|abstract)\s+)*\*?${id}\s*(?:<.*>)?\s*\(`);
  const field = new RegExp(String.raw`^\s*(?:(?:public|private|protected|static|readonly|override|declare)\s+)*${id}\s*[?!]?\s*[:=]`);
  if (keyword.test(line) || field.test(line)) return true;
  // A call statement (`release();`) looks like a method head; a declaration never ends with ';'.
  return method.test(line) && !line.trimEnd().endsWith(';');
}

/**
 * Whether `source` declares the dotted `name`: each part is looked for inside the body of the
 * part before it, the body ending at the first later line that closes at the same indentation.
 */
function declares(source: string, name: string): boolean {
  const lines = source.split('\n');
  let from = 0;
  let to = lines.length;
  for (const part of name.split('.')) {
    let at = -1;
    for (let i = from; i < to; i++) {
      if (declaresOn(lines[i]!, part)) {
        at = i;
        break;
      }
    }
    if (at < 0) return false;
    const indent = /^\s*/.exec(lines[at]!)![0];
    let end = at + 1;
    while (end < to && !lines[end]!.startsWith(`${indent}}`)) end++;
    from = at + 1;
    to = end;
  }
  return true;
}

describe('docs/READING.md (the reading guide)', () => {
  const guide = read('docs/READING.md');

  it('Scenario: every file the guide names exists and declares every function it names there', () => {
    const refs = parseReferences(guide);
    // The guide maps the whole checkpoint, BTT, header-slot, recovery and trimming path.
    expect(refs.length).toBeGreaterThan(60);
    const broken: string[] = [];
    for (const r of refs) {
      if (!existsSync(join(root, r.path))) broken.push(`${r.path}: no such file`);
      else if (!declares(read(r.path), r.name)) broken.push(`${r.path}: does not declare ${r.name}`);
    }
    expect(broken).toEqual([]);
  });

  it('Scenario: every dotted name the guide puts in backticks is part of a checked reference (none escapes the check)', () => {
    const checked = new Set(parseReferences(guide).map((r) => r.name));
    const dotted = [...guide.matchAll(new RegExp(String.raw`\`(${NAME})\``, 'g'))]
      .map((m) => m[1]!)
      .filter((n) => n.includes('.') && !/\.(?:md|ts|js|mjs|json|tokudb)$/.test(n));
    expect(dotted.length).toBeGreaterThan(40);
    expect(dotted.filter((n) => !checked.has(n))).toEqual([]);
  });

  it('Scenario: every path the guide names in backticks exists, with or without a function after it', () => {
    const paths = [...guide.matchAll(/`((?:src|tools|test|docs|fixtures)\/[\w./-]*)`/g)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThan(20);
    const missing = paths.filter((p) => !existsSync(join(root, p)) || (p.endsWith('/') && !statSync(join(root, p)).isDirectory()));
    expect(missing).toEqual([]);
  });

  it('Scenario: the checker refuses a name the file lacks, a member outside its class, and a call taken for a declaration', () => {
    const src = [
      'export class Pump {',
      '  private level = 0;',
      '  async fill(n: number): Promise<void> {',
      '    const spare = n;',
      '    release();',
      '  }',
      '}',
      'function drain(): void {',
      '  let left = 1;',
      '}',
      '',
    ].join('\n');
    expect(declares(src, 'Pump')).toBe(true);
    expect(declares(src, 'Pump.fill')).toBe(true);
    expect(declares(src, 'Pump.level')).toBe(true);
    expect(declares(src, 'Pump.fill.spare')).toBe(true);
    expect(declares(src, 'drain.left')).toBe(true);
    expect(declares(src, 'Pump.drain')).toBe(false); // declared, but not inside Pump
    expect(declares(src, 'Pump.fill.left')).toBe(false);
    expect(declares(src, 'Pump.release')).toBe(false); // only called
    expect(declares(src, 'Pump.empty')).toBe(false);
    expect(parseReferences('see `src/a.ts` `A.b`\n  `c`, and `src/d.ts` alone')).toEqual([
      { path: 'src/a.ts', name: 'A.b' },
      { path: 'src/a.ts', name: 'c' },
    ]);
  });

  it("Scenario: README's Layout section and docs/DESIGN.md link the guide", () => {
    const readme = read('README.md');
    const layout = readme.slice(readme.indexOf('## Layout'), readme.indexOf('\n## ', readme.indexOf('## Layout') + 1));
    expect(layout).toContain('docs/READING.md');
    expect(read('docs/DESIGN.md')).toContain('READING.md');
  });
});
