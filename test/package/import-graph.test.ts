/**
 * The import graph of src/ and tools/, read from the source text: layers import only
 * downward (docs/DESIGN.md, "Layers"), the fast paths (src/fast/) are reached only from the
 * Node entry and the benchmarks, so the core runs with the directory removed, no files
 * import each other in a cycle, and the core entry (src/core.ts) reaches no Node module and
 * has no import-time side effects.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** The layers of src/, lowest first: a file may import from its own layer and those before it. */
const LAYERS = ['base', 'format', 'storage', 'log', 'blocks', 'ft', 'cachetable', 'checkpoint', 'engine', 'sim', 'teach', 'extract', 'backup', 'adapters', 'fast', 'node'] as const;

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

/** Bare (package or node:*) specifiers of every static import and re-export, and of import(). */
const BARE = /(?:\bimport|\bexport)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^./'"][^'"]*)['"]|\bimport\(\s*['"]([^./'"][^'"]*)['"]\s*\)/g;

/** Every file reached from `entries` through relative imports. */
function reachable(graph: Map<string, string[]>, entries: string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...entries];
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (seen.has(f) || !graph.has(f)) continue;
    seen.add(f);
    todo.push(...graph.get(f)!);
  }
  return seen;
}

/** The Node side: no module reached from the core entry may be one of these. */
function isNodeSide(file: string): boolean {
  return /^src\/(node|fast)\//.test(file) || ['src/storage/node-storage.ts', 'src/ft/node-codecs.ts', 'src/node/host-process.ts', 'src/index.ts', 'src/adapters/abstract-level.ts'].includes(file);
}

/**
 * Top-level statements of a module that run code at import beyond declaring things: anything
 * but imports, exports of declarations, function, class, interface, type and enum declarations,
 * and const/let declarations (their initialisers run, and are held to building values, not to
 * registering or setting globals, by review). Returns "line: text" for each.
 */
function importTimeStatements(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const flagged: string[] = [];
  for (const st of sf.statements) {
    const declaration =
      ts.isImportDeclaration(st) ||
      ts.isImportEqualsDeclaration(st) ||
      ts.isExportDeclaration(st) ||
      ts.isFunctionDeclaration(st) ||
      ts.isClassDeclaration(st) ||
      ts.isInterfaceDeclaration(st) ||
      ts.isTypeAliasDeclaration(st) ||
      ts.isEnumDeclaration(st) ||
      ts.isModuleDeclaration(st) ||
      (ts.isVariableStatement(st) && (st.declarationList.flags & ts.NodeFlags.BlockScoped) !== 0) ||
      (ts.isExportAssignment(st) && !ts.isCallExpression(st.expression));
    if (!declaration) flagged.push(`${file}:${sf.getLineAndCharacterOfPosition(st.getStart()).line + 1}: ${st.getText().split('\n')[0]}`);
  }
  return flagged;
}

describe('the core entry (src/core.ts)', () => {
  const graph = importGraph();
  // The crash-test harness runs on SimStorage too, and is held to the same rules.
  const core = reachable(graph, ['src/core.ts', 'src/sim/index.ts']);

  it('reaches the engine, SimStorage and the harness', () => {
    for (const f of ['src/engine/env.ts', 'src/engine/host.ts', 'src/storage/sim-storage.ts', 'src/checkpoint/checkpointer.ts', 'src/sim/runner.ts']) expect(core.has(f), f).toBe(true);
  });

  it('reaches no module of the Node side (src/node/, src/fast/, NodeStorage, host processes, node codecs)', () => {
    expect([...core].filter(isNodeSide).sort()).toEqual([]);
  });

  it('imports no node:* module and no package but the portable ones it depends on', () => {
    const PORTABLE_PACKAGES = ['async-mutex', 'crc-32'];
    const found: string[] = [];
    for (const f of core) {
      for (const m of readFileSync(join(ROOT, f), 'utf8').matchAll(BARE)) {
        const spec = m[1] ?? m[2]!;
        if (!PORTABLE_PACKAGES.includes(spec)) found.push(`${f} -> ${spec}`);
      }
    }
    expect(found.sort()).toEqual([]);
  });

  // Property: importing the core runs no code beyond building its values: no top-level call,
  // assignment, loop or condition in any module it reaches.
  it('has no top-level statement other than declarations in any module it reaches', () => {
    // Allowed: loops that fill a module's own constant lookup tables (nothing outside the
    // module is touched). Each is named by file and statement text, so a new one is flagged.
    const ALLOWED = [
      'src/format/codec.ts: for (const c of COMPILED_BY_CMD) if (c) COMPILED_BY_NAME.set(c.spec.name, c);',
      'src/format/printer.ts: for (let c = 0x20; c <= 0x7e; c++) PLAIN[c] = c === 34 || c === 92 ? 0 : 1;',
      'src/format/printer.ts: for (let c = 0; c < 256; c++) {',
    ];
    const flagged = [...core].sort().flatMap(importTimeStatements).filter((s) => !ALLOWED.includes(s.replace(/:\d+:/, ':')));
    expect(flagged).toEqual([]);
  });

  // The checks above can fail: they see the Node entry's setup calls and node:* imports.
  it('the same checks flag the Node entry', () => {
    expect(importTimeStatements('src/index.ts').some((s) => s.includes('useNodeHostByDefault()'))).toBe(true);
    expect([...readFileSync(join(ROOT, 'src/node/host-process.ts'), 'utf8').matchAll(BARE)].map((m) => m[1] ?? m[2])).toContain('node:fs');
    expect([...reachable(graph, ['src/index.ts'])].some(isNodeSide)).toBe(true);
  });
});

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
