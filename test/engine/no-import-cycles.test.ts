import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The modules of src/ import one another in one direction: no cycle, type-only imports
// included (DESIGN.md: layers import only downward; the engine's facade, recovery, Txn and
// the modules they share form no loop either).

const ROOT = join(import.meta.dirname, '..', '..');

type Graph = Map<string, Set<string>>;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every relative import and re-export of every module under src/ (`import type` too), as repo-relative paths. */
function importGraph(): Graph {
  const graph: Graph = new Map();
  for (const file of sourceFiles(join(ROOT, 'src'))) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const deps = new Set<string>();
    for (const imp of info.importedFiles) {
      if (!imp.fileName.startsWith('.')) continue;
      deps.add(relative(ROOT, resolve(dirname(file), imp.fileName.replace(/\.js$/, '.ts'))));
    }
    graph.set(relative(ROOT, file), deps);
  }
  return graph;
}

/** The strongly connected components with more than one module (or a module importing itself): each is a cycle. */
function cycles(graph: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)!.has(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('import graph of src/', () => {
  // Scenario: a reader walks the engine from Env down without meeting a module that imports back up.
  it('has no import cycle', () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get('src/engine/env.ts')?.has('src/engine/recovery.ts')).toBe(true);
    expect(cycles(graph)).toEqual([]);
  });

  // Scenario: the check itself finds a cycle, a type-only one included (so a green run means something).
  it('the check reports a cycle, and a type-only import counts', () => {
    const info = ts.preProcessFile("import type { A } from './a.js';\nexport { B } from './b.js';\n", true, true);
    expect(info.importedFiles.map((f) => f.fileName)).toEqual(['./a.js', './b.js']);
    const g: Graph = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
      ['d', new Set(['a'])],
    ]);
    expect(cycles(g)).toEqual([['a', 'b', 'c']]);
    expect(cycles(new Map([['x', new Set(['x'])]]))).toEqual([['x']]);
    expect(cycles(new Map([['x', new Set(['y'])], ['y', new Set<string>()]]))).toEqual([]);
  });
});
