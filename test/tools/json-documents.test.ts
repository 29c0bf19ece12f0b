/**
 * The `--json` documents of status, ftdump, recover and crashtest are exactly what README's
 * "JSON output" section says: the key lists written there (`{ a, b?, c: null | { d, e } }`)
 * are parsed and compared, key by key and level by level, with real documents of each
 * command, so an undocumented key or a documented key that is never produced fails here.
 */
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Env } from '../../src/node/env.js';
import { LogCursor } from '../../src/log/cursor.js';
import { findLogFiles } from '../../src/log/names.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { EXIT } from '../../tools/cli-support.js';
import { runCrashtest } from '../../tools/commands/crashtest.js';
import { runFtdump } from '../../tools/commands/ftdump.js';
import { runRecover } from '../../tools/commands/recover.js';
import { runStatus } from '../../tools/commands/status.js';
import { referenceDicts } from '../format/ft-fixtures-helper.js';

const README = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
const enc = (s: string) => new TextEncoder().encode(s);
const quiet = { write: () => undefined, isTTY: false };

/** A documented object: its keys (optional ones marked `key?`), each with the shape of its object value, if given; `...` leaves it open. */
interface Shape {
  keys: Map<string, { optional: boolean; shape: Shape | undefined }>;
  open: boolean;
}

/** Parse the `{ ... }` that starts at text[at]; returns the shape and the index after its `}`. */
function parseShape(text: string, at: number): { shape: Shape; end: number } {
  expect(text[at]).toBe('{');
  const shape: Shape = { keys: new Map(), open: false };
  let i = at + 1;
  for (;;) {
    // A key, optionally marked `?`, optionally followed by a note in parentheses: `leaseExpires (ISO time)`.
    const m = /^\s*(\.\.\.|(\w+)(\?)?)\s*(?:\([^)]*\)\s*)?/.exec(text.slice(i))!;
    i += m[0].length;
    if (m[1] === '...') shape.open = true;
    else {
      const name = m[2]!;
      let sub: Shape | undefined;
      if (text[i] === ':') {
        // The value runs to the next `,` or `}` at this level; its first `{` is the object's shape.
        i++;
        let depth = 0;
        for (; i < text.length; i++) {
          const c = text[i]!;
          if (c === '{' && sub === undefined) {
            const r = parseShape(text, i);
            sub = r.shape;
            i = r.end - 1;
          } else if (c === '{' || c === '[' || c === '(') depth++;
          else if (c === ']' || c === ')' || (c === '}' && depth > 0)) depth--;
          else if ((c === ',' || c === '}') && depth === 0) break;
        }
      }
      shape.keys.set(name, { optional: m[3] === '?', shape: sub });
    }
    const sep = /^\s*([,}])/.exec(text.slice(i))!;
    i += sep[0].length;
    if (sep[1] === '}') return { shape, end: i };
  }
}

/** The shape README documents right after `marker` (the first `{` that follows it). */
function documented(marker: string): Shape {
  const at = README.indexOf(marker);
  expect(at, marker).toBeGreaterThan(0);
  // Markdown line breaks inside the code span are plain spaces here.
  return parseShape(README, README.indexOf('{', at)).shape;
}

/**
 * Differences between a document and its shape: keys the README does not list, and required
 * keys the document lacks (`seen` collects the keys met, to show every documented key is made).
 */
function compare(doc: unknown, shape: Shape, path: string, seen: Set<string>, out: string[]): void {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return;
  for (const [k, v] of Object.entries(doc)) {
    const key = `${path}.${k}`;
    seen.add(key);
    const spec = shape.keys.get(k);
    if (spec === undefined) {
      if (!shape.open) out.push(`${key}: not in README`);
      continue;
    }
    if (spec.shape === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) compare(item, spec.shape, key, seen, out);
  }
  for (const [k, spec] of shape.keys) if (!spec.optional && !(k in doc)) out.push(`${path}.${k}: documented, missing`);
}

/** Every documented key path of a shape. */
function paths(shape: Shape, path: string): string[] {
  return [...shape.keys].flatMap(([k, spec]) => [`${path}.${k}`, ...(spec.shape ? paths(spec.shape, `${path}.${k}`) : [])]);
}

/** Check documents against the shape documented after marker; every documented key must appear in one of them. */
function expectDocumented(marker: string, docs: unknown[]): void {
  const shape = documented(marker);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const d of docs) compare(d, shape, '', seen, out);
  expect(out, marker).toEqual([]);
  expect(paths(shape, '').filter((p) => !seen.has(p)), `${marker}: documented keys no document had`).toEqual([]);
}

let work: string;
/** A crashed environment (a transaction left open) and a copy whose log ends inside an entry. */
let crashed: string;
let torn: string;
/** A crashed environment whose next-to-last log entry has a flipped bit (a whole entry after the damage). */
let flipped: string;

async function crashedEnv(dir: string): Promise<void> {
  const env = await Env.open(dir, { checkpointPeriodMs: 0, owner: 'json-docs' });
  const d = await env.createDictionary('t');
  await env.put(d, enc('a'), enc('1'));
  await env.checkpoint();
  const open = env.begin();
  await open.put(d, enc('b'), enc('2'));
  await env.put(d, enc('c'), enc('3'));
  env.abandon();
  rmSync(join(dir, '__tokusim_env_lock'));
}

/** The newest log file of dir and its entries (offset, length). */
async function entriesOf(dir: string): Promise<{ file: string; entries: Array<{ offset: number; length: number }> }> {
  const storage = new NodeStorage();
  const files = await findLogFiles(storage, dir);
  const file = files[files.length - 1]!.path;
  const cursor = new LogCursor(storage, [file]);
  const entries: Array<{ offset: number; length: number }> = [];
  try {
    for (let e = await cursor.next(); e !== undefined; e = await cursor.next()) entries.push({ offset: e.offset, length: e.length });
  } finally {
    await cursor.close();
  }
  return { file, entries };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tokusim-json-docs-'));
  crashed = join(work, 'crashed');
  await crashedEnv(crashed);
  torn = join(work, 'torn');
  await crashedEnv(torn);
  const tornLog = await entriesOf(torn);
  const last = tornLog.entries[tornLog.entries.length - 1]!;
  truncateSync(tornLog.file, last.offset + Math.floor(last.length / 2));
  flipped = join(work, 'flipped');
  await crashedEnv(flipped);
  const flippedLog = await entriesOf(flipped);
  const victim = flippedLog.entries[flippedLog.entries.length - 2]!;
  const bytes = readFileSync(flippedLog.file);
  bytes[victim.offset + 14] ^= 0x40;
  writeFileSync(flippedLog.file, bytes);
});

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

async function statusDoc(dir: string): Promise<unknown> {
  let out = '';
  await runStatus(new NodeStorage(), dir, true, (s) => (out += s), () => undefined);
  return JSON.parse(out);
}

async function recoverDoc(dir: string, dryRun: boolean): Promise<unknown> {
  let out = '';
  await runRecover(dir, () => undefined, (s) => (out += s), false, { json: true, dryRun });
  return JSON.parse(out);
}

describe("README's JSON output section lists exactly the keys of each document", () => {
  // Scenario: status of a crashed environment, of a torn log (damage) and of a clean one.
  it('Scenario: status --json', async () => {
    // An environment open in this process: status shows its lock, held.
    const live = await Env.open(join(work, 'live'), { checkpointPeriodMs: 0, owner: 'json-docs' });
    const docs = [await statusDoc(crashed), await statusDoc(torn), await statusDoc(flipped), await statusDoc(join(work, 'live'))];
    await live.close();
    expect((docs[3] as { lock: { state: string } | null }).lock?.state).toBe('held');
    expectDocumented('- `status --json`:', docs);
  });

  // Scenario: ftdump of a PerconaFT dictionary with each section flag, and with none.
  it('Scenario: ftdump --json, every section', async () => {
    const dict = referenceDicts().find((d) => d.name.endsWith('.tokudb') && d.run.startsWith('S8'))!;
    const flags = [{}, { header: true }, { 'translation-table': true }, { 'both-headers': true }, { rootnode: true }, { summary: true }, { fragmentation: true }, { garbage: true }];
    const docs: unknown[] = [];
    for (const f of flags) {
      const r = await runFtdump({ file: dict.path, json: true, ...f });
      expect(r.code, JSON.stringify(f)).toBe(0);
      docs.push(JSON.parse(r.stdout));
    }
    expectDocumented('- `ftdump --json`:', docs);
  }, 120_000);

  // Scenario: recover --dry-run and recover of a torn log (repair), then of a crashed one.
  it('Scenario: recover --json', async () => {
    const docs = [await recoverDoc(torn, true), await recoverDoc(torn, false), await recoverDoc(flipped, false), await recoverDoc(crashed, false), await recoverDoc(crashed, false)];
    expect(docs.map((d) => (d as { recovered: boolean }).recovered)).toEqual([true, true, true, true, false]);
    expect((docs[2] as { repair: { discardedEntries: number } }).repair.discardedEntries).toBe(1);
    expectDocumented('- `recover --json`:', docs);
  });

  // Scenario: crashtest with a planted bug (a violation) and --plant-bug list.
  it('Scenario: crashtest --json and --plant-bug list --json', async () => {
    const out: string[] = [];
    expect(await runCrashtest({ seed: 5, runs: 200, plantBug: 'checkpoint-no-clone', json: true, progress: quiet }, (l) => out.push(l))).toBe(EXIT.VIOLATION);
    expectDocumented('- `crashtest --json`:', [JSON.parse(out.join('\n'))]);
    const list: string[] = [];
    expect(await runCrashtest({ seed: 1, runs: 0, plantBug: 'list', json: true }, (l) => list.push(l))).toBe(EXIT.OK);
    expectDocumented('`--plant-bug list --json` prints', [JSON.parse(list.join('\n'))]);
  }, 120_000);

  // Scenario: the comparison itself notices an undocumented key and a missing documented one.
  it('Scenario: the check reports a key the README lacks and a documented key a document lacks', () => {
    const shape = parseShape('{ a, b?, c: null | { d, e }, f: [{ g }] }', 0).shape;
    const out: string[] = [];
    compare({ a: 1, c: { d: 1, x: 2 }, f: [{ g: 1 }, { h: 1 }] }, shape, '', new Set(), out);
    expect(out).toEqual(['.c.x: not in README', '.c.e: documented, missing', '.f.h: not in README', '.f.g: documented, missing']);
    const open = parseShape('{ a, ... }', 0).shape;
    const none: string[] = [];
    compare({ a: 1, z: 2 }, open, '', new Set(), none);
    expect(none).toEqual([]);
  });
});
