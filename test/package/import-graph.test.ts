/**
 * The import graph of src/ and tools/, read from the source text: layers import only
 * downward (docs/DESIGN.md, "Layers"), the fast paths (src/fast/) are reached only from the
 * Node entry and the benchmarks, so the core runs with the directory removed, and no files
 * import each other in a cycle.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** The layers of src/, lowest first: a file may import from its own layer and those before it. */
const LAYERS = ['base', 'format', 'storage', 'log', 'blocks', 'ft', 'cachetable', 'checkpoint', 'engine', 'sim', 'teach', 'extract', 'adapters', 'fast', 'node'] as const;

/** Files allowed to import src/fast/ besides src/fast/ itself: the Node entry and the benchmarks. */
function mayImportFast(file: string): boolean {
  return file.startsWith('src/fast/') || file.startsWith('src/node/') || file === 'src/index.ts' || file.startsWith('tools/bench/');
}

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return tsFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative specifiers of every static import and re-export (type-only ones too), and of import(). */
const SPECIFIER = /(?:\bimport|\bexport)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** file -> the repository files it imports (by path, .ts). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of [...tsFiles('src'), ...tsFiles('tools')]) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const targets: string[] = [];
    for (const m of text.matchAll(SPECIFIER)) {
      const spec = m[1] ?? m[2]!;
      targets.push(relative(ROOT, resolve(ROOT, dirname(file), spec)).replace(/\.js$/, '.ts'));
    }
    graph.set(file, targets);
  }
  return graph;
}

/** The layer of a src/ file (its first folder), or null for src/index.ts and tools/. */
function layerOf(file: string): number | null {
  const m = /^src\/([^/]+)\//.exec(file);
  if (m === null) return null;
  const i = (LAYERS as readonly string[]).indexOf(m[1]!);
  expect(i, `${file} is in a folder that is no layer of docs/DESIGN.md`).toBeGreaterThanOrEqual(0);
  return i;
}

/** Strongly connected components of more than one file (or a file importing itself). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('import graph', () => {
  const graph = importGraph();

  it('finds the files and their imports', () => {
    expect(graph.get('src/checkpoint/checkpointable-dictionary.ts')).toContain('src/storage/storage.ts');
    expect(graph.size).toBeGreaterThan(100);
  });

  it('every import resolves to a file of the repository', () => {
    const missing: string[] = [];
    for (const [file, targets] of graph) for (const t of targets) if (!graph.has(t) && !t.startsWith('node_modules/')) missing.push(`${file} -> ${t}`);
    expect(missing).toEqual([]);
  });

  // Property: for every import between two src/ files, the importer's layer is the imported
  // file's layer or one after it in LAYERS.
  it('layers import only downward', () => {
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      const from = layerOf(file);
      if (from === null) continue;
      for (const t of targets) {
        const to = layerOf(t);
        if (to !== null && to > from) upward.push(`${file} (${LAYERS[from]}) -> ${t} (${LAYERS[to]})`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('only src/fast/, the Node entry (src/index.ts, src/node/) and tools/bench/ import src/fast/', () => {
    const offenders: string[] = [];
    for (const [file, targets] of graph) {
      if (mayImportFast(file)) continue;
      for (const t of targets) if (t.startsWith('src/fast/')) offenders.push(`${file} -> ${t}`);
    }
    expect(offenders).toEqual([]);
  });

  it('the modules above the storage layer name no concrete storage but through the Node entry', () => {
    // The algorithm layers reach storage through its interface only (storage.ts, plus the
    // clock and io-error helpers); NodeStorage and SimStorage are chosen by their callers.
    const concrete = ['src/storage/node-storage.ts', 'src/storage/sim-storage.ts', 'src/storage/overlay-storage.ts'];
    const offenders: string[] = [];
    for (const [file, targets] of graph) {
      if (!/^src\/(log|blocks|cachetable|checkpoint)\//.test(file)) continue;
      for (const t of targets) if (concrete.includes(t)) offenders.push(`${file} -> ${t}`);
    }
    expect(offenders).toEqual([]);
  });

  // The engine's files still import each other in cycles (env, recovery, txn) while env.ts
  // is being split; every other layer is held to no cycle at all.
  it('no files outside src/engine/ import each other in a cycle', () => {
    const found = cycles(graph).filter((scc) => !scc.every((f) => f.startsWith('src/engine/')));
    expect(found).toEqual([]);
  });
});
