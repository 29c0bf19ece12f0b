import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Section numbers a spec file defines: headings such as `## 7.` or `### 9.4 Partially ...`. */
function sectionsOf(spec: string): Set<string> {
  const out = new Set<string>();
  for (const m of spec.matchAll(/^#{1,6}\s+(?:§\s*)?(\d+(?:\.\d+)*)\.?\s/gm)) out.add(m[1]!);
  return out;
}

describe('docs: the specifications the code cites ship with it', () => {
  // Property: every `<spec>.md §N` cited in src/ or tools/ names a file in docs/spec/ holding a
  // heading numbered N, so a reader of the code can follow every citation inside the repository.
  it('Scenario: every cited spec file and section exists in docs/spec/', () => {
    const specDir = join(ROOT, 'docs', 'spec');
    const specs = new Map<string, Set<string>>();
    for (const name of readdirSync(specDir)) if (name.endsWith('.md')) specs.set(name, sectionsOf(readFileSync(join(specDir, name), 'utf8')));
    const missing: string[] = [];
    let citations = 0;
    for (const file of [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'tools'))]) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\b([a-z][a-z-]*\.md)\s+§\s*(\d+(?:\.\d+)*)/g)) {
        const [, spec, section] = m as unknown as [string, string, string];
        if (spec === 'engine.md' || spec === 'node-format.md') continue; // docs/, not specs
        citations++;
        const sections = specs.get(spec);
        if (sections === undefined) missing.push(`${file}: ${spec} (no such file in docs/spec/)`);
        else if (!sections.has(section)) missing.push(`${file}: ${spec} §${section} (no such heading)`);
      }
    }
    expect(citations).toBeGreaterThan(30);
    expect(missing).toEqual([]);
  });

  // Property: every Markdown file named in a comment of src/ or tools/ (and so in the published
  // .d.ts) exists in the repository: `docs/x.md` at that path, a bare `x.md` in the root, docs/
  // or docs/spec/; and a section it names in quotes (`docs/backup.md "Resuming"`) is in it.
  it('Scenario: every Markdown file and quoted section the code cites exists', () => {
    const missing: string[] = [];
    let cited = 0;
    for (const file of [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'tools'))]) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?<![\w./-])((?:[\w.-]+\/)*)([A-Za-z][\w-]*\.md)\b(?:,? ["“]([^"”\n]+)["”])?/g)) {
        const [, dir, name, quoted] = m as unknown as [string, string, string, string | undefined];
        cited++;
        const candidates = dir !== '' ? [join(ROOT, dir, name)] : [join(ROOT, name), join(ROOT, 'docs', name), join(ROOT, 'docs', 'spec', name)];
        const found = candidates.find((c) => existsSync(c));
        if (found === undefined) {
          missing.push(`${file}: ${dir}${name} (no such file)`);
          continue;
        }
        if (quoted !== undefined && !readFileSync(found, 'utf8').toLowerCase().includes(quoted.toLowerCase())) missing.push(`${file}: ${dir}${name} "${quoted}" (not in that file)`);
      }
    }
    expect(cited).toBeGreaterThan(100);
    expect(missing).toEqual([]);
  });
});
