// Replay of the real PerconaFT logs in fixtures/perconaft against an independent model of
// each scenario built from its ops_trace.txt (and, for S4, the row formula of its
// SCENARIO.md / trace). The expected rows are never written down by hand.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogReplayer, bytesToKey, type ReplayResult } from '../../src/log/replay.js';
import { LogCursor } from '../../src/log/cursor.js';
import { compareLogFiles, findLogFiles } from '../../src/log/names.js';
import { NodeStorage } from '../../src/storage/node-storage.js';

const FIX = join(process.cwd(), 'fixtures', 'perconaft');

async function replayDirs(dirs: string[]): Promise<ReplayResult> {
  const storage = new NodeStorage();
  const files = (await Promise.all(dirs.map((d) => findLogFiles(storage, join(FIX, d))))).flat().sort(compareLogFiles);
  const cursor = new LogCursor(storage, files.map((f) => f.path));
  const r = new LogReplayer();
  for (let e = await cursor.next(); e !== undefined; e = await cursor.next()) r.apply(e.record);
  await cursor.close();
  return r.finish();
}

// ---- An independent model of a scenario, driven by ops_trace.txt ---------------------------

const UNDET = Symbol('undetermined');
type Cell = string | typeof UNDET;
interface ModelDict {
  rows: Map<string, Cell>;
  unknown: boolean;
}
interface ModelTxn {
  name: string;
  id: number;
  parent: ModelTxn | undefined;
  ops: Array<(s: Map<string, ModelDict>) => void>;
  prepared: boolean;
}

/** Decode the trace's C-style string escapes into a latin1 byte string. */
function cstr(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, e: string) => {
    if (e[0] === 'x' && e.length === 3) return String.fromCharCode(parseInt(e.slice(1), 16));
    return ({ n: '\n', t: '\t', '"': '"', '\\': '\\' } as Record<string, string>)[e] ?? e;
  });
}

/** The value of `name="..."` (or the 4 KiB generated value of S7) in a trace line. */
function field(line: string, name: string): string {
  const gen = new RegExp(`${name}=<(\\d+) bytes, byte\\[i\\]=\\(i\\*(\\d+)\\+(\\d+)\\)&0xff>`).exec(line);
  if (gen) {
    const [n, a, b] = [Number(gen[1]), Number(gen[2]), Number(gen[3])];
    return String.fromCharCode(...Array.from({ length: n }, (_, i) => (i * a + b) & 0xff));
  }
  const m = new RegExp(`${name}="((?:[^"\\\\]|\\\\.)*)"`).exec(line);
  if (!m) throw new Error(`no ${name}= in ${line}`);
  return cstr(m[1]!);
}

function list(line: string, name: string): string[] {
  const m = new RegExp(`${name}=\\[([^\\]]*)\\]`).exec(line);
  if (!m) throw new Error(`no ${name}=[...] in ${line}`);
  return m[1]!.split(',');
}

class ScenarioModel {
  readonly dicts = new Map<string, ModelDict>();
  private live: ModelTxn[] = [];

  run(trace: string): this {
    for (const line of trace.split('\n')) if (line !== '') this.step(line);
    return this;
  }

  /** The txn a `txn=N` names: the newest live txn with that id64 (a child while it is open). */
  private txn(id: number): ModelTxn {
    for (let i = this.live.length - 1; i >= 0; i--) if (this.live[i]!.id === id) return this.live[i]!;
    throw new Error(`no live txn ${id}`);
  }

  private dict(s: Map<string, ModelDict>, dname: string): ModelDict {
    const d = s.get(dname);
    if (!d) throw new Error(`no dictionary ${dname}`);
    return d;
  }

  private step(line: string): void {
    const verb = line.split(' ')[0]!;
    const txnId = /\btxn=(\d+)/.exec(line) ?? /\bin_txn=(\d+)/.exec(line);
    const t = txnId ? this.txn(Number(txnId[1])) : undefined;
    const push = (op: (s: Map<string, ModelDict>) => void): void => void t!.ops.push(op);
    switch (verb) {
      case 'env_open':
        // A reopen after a crash: recovery aborts every live txn that is not prepared.
        this.live = this.live.filter((x) => x.prepared);
        return;
      case 'txn_begin': {
        const m = /^txn_begin (.*?) id64=(\d+)(?: parent=(\d+))?/.exec(line)!;
        const parent = m[3] !== undefined ? this.txn(Number(m[3])) : undefined;
        this.live.push({ name: m[1]!, id: Number(m[2]), parent, ops: [], prepared: false });
        return;
      }
      case 'txn_commit':
      case 'txn_abort': {
        const m = /^txn_\w+ (.*?) id64=(\d+)/.exec(line)!;
        const x = [...this.live].reverse().find((y) => y.name === m[1]) ?? this.txn(Number(m[2]));
        this.live = this.live.filter((y) => y !== x);
        if (verb === 'txn_abort') return;
        if (x.parent) x.parent.ops.push(...x.ops);
        else for (const op of x.ops) op(this.dicts);
        return;
      }
      case 'xa_prepare':
      case 'prepare': {
        let x = t!;
        while (x.parent) x = x.parent;
        // xa_prepare commits the txn's still-open child into it first.
        for (const c of this.live.filter((y) => y.parent === x)) x.ops.push(...c.ops);
        this.live = this.live.filter((y) => y.parent !== x);
        x.prepared = true;
        return;
      }
      case 'db_open': {
        if (!/flags=DB_CREATE/.test(line)) return;
        const dname = field(line, 'dname');
        push((s) => void s.set(dname, { rows: new Map(), unknown: false }));
        return;
      }
      case 'put': {
        const [dname, key, val] = [field(line, 'db'), field(line, 'key'), field(line, 'val')];
        const noow = /flags=DB_NOOVERWRITE_NO_ERROR/.test(line);
        push((s) => {
          const d = this.dict(s, dname);
          if (!noow) return void d.rows.set(key, val);
          if (d.rows.has(key)) return;
          d.rows.set(key, d.unknown ? UNDET : val);
        });
        return;
      }
      case 'del': {
        const [dname, key] = [field(line, 'db'), field(line, 'key')];
        push((s) => void this.dict(s, dname).rows.delete(key));
        return;
      }
      case 'update': {
        const [dname, key] = [field(line, 'db'), field(line, 'key')];
        push((s) => void this.dict(s, dname).rows.set(key, UNDET));
        return;
      }
      case 'update_broadcast': {
        const dname = field(line, 'db');
        push((s) => {
          const d = this.dict(s, dname);
          for (const k of d.rows.keys()) d.rows.set(k, UNDET);
        });
        return;
      }
      case 'put_multiple':
      case 'del_multiple': {
        const [src, key, val] = [field(line, 'src'), field(line, 'key'), field(line, 'val')];
        const dbs = list(line, 'dbs');
        push((s) => {
          for (const dname of dbs) {
            const d = this.dict(s, dname);
            if (dname === src) {
              if (verb === 'put_multiple') d.rows.set(key, val);
              else d.rows.delete(key);
            } else {
              // Rows made by the application's generator: nothing about them is in the log.
              for (const k of d.rows.keys()) d.rows.set(k, UNDET);
              d.unknown = true;
            }
          }
        });
        return;
      }
      case 'create_loader':
      case 'create_indexer': {
        const dbs = list(line, 'dbs');
        push((s) => {
          for (const dname of dbs) s.set(dname, { rows: new Map(), unknown: true });
        });
        return;
      }
      case 'dbrename': {
        const m = /^dbrename "((?:[^"\\]|\\.)*)" -> "((?:[^"\\]|\\.)*)"/.exec(line)!;
        const [from, to] = [cstr(m[1]!), cstr(m[2]!)];
        push((s) => {
          s.set(to, this.dict(s, from));
          s.delete(from);
        });
        return;
      }
      case 'dbremove': {
        const dname = cstr(/^dbremove "((?:[^"\\]|\\.)*)"/.exec(line)![1]!);
        push((s) => void s.delete(dname));
        return;
      }
      case 'round': {
        // S4: "round r: ... (rows up to N)": rows n of this round, 300-byte values.
        const m = /^round (\d+): .*rows up to (\d+)/.exec(line)!;
        const [r, last] = [Number(m[1]), Number(m[2])];
        for (let n = last - 749; n <= last; n++) {
          const pad = String(n).padStart(5, '0');
          let v = `row${pad}:`;
          for (let q = 9; q < 300; q++) v += String.fromCharCode(97 + ((n + q) % 26));
          this.dict(this.dicts, n % 2 === 0 ? 'roll0.db' : 'roll1.db').rows.set(`r${r}-k${pad}`, v);
        }
        return;
      }
      default:
        return; // checkpoints, closes, loader_put (not logged), env_close, ...
    }
  }
}

/** Compare a replay with the model: directory ↔ dnames, then each dictionary's rows. */
function expectMatches(result: ReplayResult, model: ScenarioModel, envListing: string): void {
  const byIname = new Map(result.dictionaries.map((d) => [bytesToKey(d.iname), d]));
  const directory = byIname.get('tokudb.directory');
  expect(directory).toBeDefined();
  // tokudb.directory maps dname+NUL → iname+NUL for exactly the dictionaries that exist.
  const dnameToIname = new Map(directory!.rows.map((r) => [bytesToKey(r.key).replace(/\0$/, ''), bytesToKey(r.value).replace(/\0$/, '')]));
  expect([...dnameToIname.keys()].sort()).toEqual([...model.dicts.keys()].sort());

  for (const [dname, md] of model.dicts) {
    const d = byIname.get(dnameToIname.get(dname)!);
    expect(d, `dictionary for ${dname}`).toBeDefined();
    const known = [...md.rows].filter(([, v]) => v !== UNDET).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const undet = [...md.rows].filter(([, v]) => v === UNDET).map(([k]) => k).sort();
    expect(d!.rows.map((r) => [bytesToKey(r.key), bytesToKey(r.value)]), `rows of ${dname}`).toEqual(known);
    expect(d!.undeterminedKeys.map(bytesToKey), `undetermined keys of ${dname}`).toEqual(undet);
    expect(d!.unknownRows, `unknown rows of ${dname}`).toBe(md.unknown);
  }

  // The environment's own dictionary: the layout version (29) twice and the creation time.
  const env = byIname.get('tokudb.environment')!;
  expect(env.rows.map((r) => bytesToKey(r.key))).toEqual(['creation_time', 'current_version', 'original_version']);
  for (const r of env.rows.slice(1)) expect([...r.value]).toEqual([29, 0, 0, 0]);

  // The dictionaries left are exactly the dictionary files PerconaFT left in the env.
  const files = envListing
    .split('\n')
    .map((l) => l.split('\t')[2] ?? '')
    .filter((n) => (n.endsWith('.tokudb') || /^tokudb\.(directory|environment)$/.test(n)));
  expect(result.dictionaries.map((d) => Buffer.from(d.iname).toString('utf8')).sort()).toEqual(files.sort());
}

function read(rel: string): string {
  return readFileSync(join(FIX, rel), 'latin1');
}

describe('replay of the PerconaFT reference logs', () => {
  // Scenario: S1, three dictionaries and 50 committed single-insert transactions.
  it('Scenario: S1 basic gives exactly the committed rows of its trace', async () => {
    const result = await replayDirs(['S1_basic/logs']);
    expectMatches(result, new ScenarioModel().run(read('S1_basic/ops_trace.txt')), read('S1_basic/env_listing.txt'));
    expect(result.pending).toEqual([]);
    expect(result.notApplied).toEqual([]);
    expect(result.anomalies).toEqual([]);
  });

  // Scenario: S2, a parent with a committed child, an aborted txn, and a dictionary reopened
  // under a new filenum.
  it('Scenario: S2 nested commit, abort and fclose/fopen give the trace rows', async () => {
    const result = await replayDirs(['S2_open_txns_at_checkpoint/logs']);
    expectMatches(result, new ScenarioModel().run(read('S2_open_txns_at_checkpoint/ops_trace.txt')), read('S2_open_txns_at_checkpoint/env_listing.txt'));
    expect(result.anomalies).toEqual([]);
  });

  // Scenario: S4, eight files (seven trimmed by PerconaFT) that together are the whole log.
  it('Scenario: S4 trimmed + live files replay the 3000 rows of the rollover run', async () => {
    const result = await replayDirs(['S4_rollover/logs_trimmed', 'S4_rollover/logs']);
    expect(result.firstLsn).toBe(1n);
    expectMatches(result, new ScenarioModel().run(read('S4_rollover/ops_trace.txt')), read('S4_rollover/env_listing.txt'));
    expect(result.dictionaries.filter((d) => !d.system).reduce((n, d) => n + d.rows.length, 0)).toBe(3000);
  });

  // Scenario: S6, twenty checkpoints between small transactions.
  it('Scenario: S6 many checkpoints give the trace rows', async () => {
    const result = await replayDirs(['S6_many_checkpoints/logs']);
    expectMatches(result, new ScenarioModel().run(read('S6_many_checkpoints/ops_trace.txt')), read('S6_many_checkpoints/env_listing.txt'));
  });

  // Scenario: S7 clean, every record type: updates, generators, loader and hot indexer make
  // rows undetermined (reported), renames and removes move and drop dictionaries.
  it('Scenario: S7 clean gives the determinable rows and flags the rest', async () => {
    const result = await replayDirs(['S7_all_types/clean/logs']);
    expectMatches(result, new ScenarioModel().run(read('S7_all_types/clean/ops_trace.txt')), read('S7_all_types/clean/env_listing.txt'));
    const types = new Set(result.notApplied.map((n) => n.record));
    for (const t of ['enq_update', 'enq_updatebroadcast', 'enq_insert_multiple', 'enq_delete_multiple', 'load', 'hot_index']) {
      expect(types.has(t as never), t).toBe(true);
    }
    expect(result.pending).toEqual([]);
  });

  // Scenario: S7 crash: two prepared and three live transactions at the end are not applied,
  // and the dictionary created by a still-open txn does not exist.
  it('Scenario: S7 crash leaves open and prepared txns unapplied', async () => {
    const result = await replayDirs(['S7_all_types/crash/logs']);
    const trace = read('S7_all_types/crash/ops_trace.txt');
    // What recovery leaves is what the reopened env lists (the 0-byte uncommitted file goes).
    expectMatches(result, new ScenarioModel().run(trace), read('S7_all_types/crash/reopened/env_listing.txt'));
    expect(result.pending.map((p) => [`${p.xid.parent},${p.xid.child}`, p.state])).toEqual([
      ['4,0', 'prepared'],
      ['5,0', 'live'],
      ['7,0', 'prepared'],
      ['10,0', 'live'],
      ['11,0', 'live'],
    ]);
  });

  // Scenario: the crashed log followed by the log written by recovery and the reopened env
  // (prepared P1 committed, P2 aborted) is one whole log.
  it('Scenario: S7 crash + reopened resolves the prepared transactions', async () => {
    const result = await replayDirs(['S7_all_types/crash/logs', 'S7_all_types/crash/reopened/logs']);
    const trace = read('S7_all_types/crash/ops_trace.txt') + read('S7_all_types/crash/reopened/ops_trace.txt');
    expectMatches(result, new ScenarioModel().run(trace), read('S7_all_types/crash/reopened/env_listing.txt'));
    expect(result.pending).toEqual([]);
    expect(result.anomalies).toEqual([]);
  });
});
