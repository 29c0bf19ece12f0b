// Unit scenarios for the forensic replay engine, on hand-built record sequences.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LogReplayer, bytesToKey, replayRecords, type ReplayResult } from '../../src/log/replay.js';
import { TokusimError } from '../../src/base/errors.js';
import type { LogRecord, TxnidPair } from '../../src/format/record-types.js';

const enc = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const X = (parent: number, child = 0): TxnidPair => ({ parent: BigInt(parent), child: BigInt(child) });
const NONE = X(0);

/** Builds a record sequence with consecutive LSNs from 1. */
class Log {
  readonly recs: LogRecord[] = [];
  private add(r: Record<string, unknown>): this {
    this.recs.push({ ...r, lsn: BigInt(this.recs.length + 1) } as unknown as LogRecord);
    return this;
  }
  begin(xid: TxnidPair, parent: TxnidPair = NONE): this {
    return this.add({ type: 'xbegin', xid, parentxid: parent });
  }
  commit(xid: TxnidPair): this {
    return this.add({ type: 'xcommit', xid });
  }
  abort(xid: TxnidPair): this {
    return this.add({ type: 'xabort', xid });
  }
  prepare(xid: TxnidPair): this {
    return this.add({ type: 'xprepare', xid, xa_xid: { formatID: 1, gtridLength: 1, bqualLength: 0, data: enc('g') } });
  }
  fcreate(xid: TxnidPair, filenum: number, iname: string): this {
    return this.add({ type: 'fcreate', xid, filenum, iname: enc(iname), mode: 0o666, treeflags: 0, nodesize: 0, basementnodesize: 0, compression_method: 0 });
  }
  fopen(filenum: number, iname: string): this {
    return this.add({ type: 'fopen', iname: enc(iname), filenum, treeflags: 0 });
  }
  fclose(filenum: number, iname: string): this {
    return this.add({ type: 'fclose', iname: enc(iname), filenum });
  }
  fdelete(xid: TxnidPair, filenum: number): this {
    return this.add({ type: 'fdelete', xid, filenum });
  }
  frename(xid: TxnidPair, from: string, filenum: number, to: string): this {
    return this.add({ type: 'frename', xid, old_iname: enc(from + '\0'), old_filenum: filenum, new_iname: enc(to + '\0') });
  }
  put(xid: TxnidPair, filenum: number, key: string, value: string): this {
    return this.add({ type: 'enq_insert', filenum, xid, key: enc(key), value: enc(value) });
  }
  putNoOverwrite(xid: TxnidPair, filenum: number, key: string, value: string): this {
    return this.add({ type: 'enq_insert_no_overwrite', filenum, xid, key: enc(key), value: enc(value) });
  }
  del(xid: TxnidPair, filenum: number, key: string): this {
    return this.add({ type: 'enq_delete_any', filenum, xid, key: enc(key) });
  }
  update(xid: TxnidPair, filenum: number, key: string): this {
    return this.add({ type: 'enq_update', filenum, xid, key: enc(key), extra: enc('+') });
  }
  run(): ReplayResult {
    return replayRecords(this.recs);
  }
}

/** iname → [[key, value], ...] of a result. */
function rows(r: ReplayResult): Record<string, Array<[string, string]>> {
  return Object.fromEntries(r.dictionaries.map((d) => [bytesToKey(d.iname), d.rows.map((x) => [bytesToKey(x.key), bytesToKey(x.value)])]));
}

/** A log whose txn 1 created dictionary a.tokudb as filenum 5 and committed. */
const withDict = (): Log => new Log().begin(X(1)).fcreate(X(1), 5, 'a.tokudb').commit(X(1));

describe('replay engine', () => {
  // Scenario: a child's writes become the parent's on child commit and show only at root commit.
  it('Scenario: nested commit applies the child writes with the root', () => {
    const r = withDict().begin(X(2)).put(X(2), 5, 'p', '1').begin(X(2, 1), X(2)).put(X(2, 1), 5, 'c', '2').commit(X(2, 1)).commit(X(2)).run();
    expect(rows(r)['a.tokudb']).toEqual([['c', '2'], ['p', '1']]);
  });

  // Scenario: an aborted child discards its writes; the parent's own writes still commit.
  it('Scenario: child abort discards only the child writes', () => {
    const r = withDict().begin(X(2)).put(X(2), 5, 'p', '1').begin(X(2, 1), X(2)).put(X(2, 1), 5, 'c', '2').abort(X(2, 1)).commit(X(2)).run();
    expect(rows(r)['a.tokudb']).toEqual([['p', '1']]);
  });

  // Scenario: a committed child inside an aborted root leaves nothing.
  it('Scenario: root abort discards a committed child', () => {
    const r = withDict().begin(X(2)).begin(X(2, 1), X(2)).put(X(2, 1), 5, 'c', '2').commit(X(2, 1)).abort(X(2)).run();
    expect(rows(r)['a.tokudb']).toEqual([]);
  });

  // Scenario: overwrite, insert-if-absent in log order, and delete.
  it('Scenario: enq_insert overwrites, no-overwrite inserts only when absent, delete_any removes', () => {
    const r = withDict()
      .begin(X(2)).put(X(2), 5, 'k', 'old').put(X(2), 5, 'k', 'new').putNoOverwrite(X(2), 5, 'k', 'ignored')
      .putNoOverwrite(X(2), 5, 'n', 'fresh').put(X(2), 5, 'gone', 'x').del(X(2), 5, 'gone').commit(X(2))
      .run();
    expect(rows(r)['a.tokudb']).toEqual([['k', 'new'], ['n', 'fresh']]);
  });

  // Scenario: a filenum reused after fclose names the new file, so writes land in the right one.
  it('Scenario: a reused filenum binds writes to the dictionary open at the time', () => {
    const r = withDict()
      .begin(X(2)).fcreate(X(2), 7, 'b.tokudb').commit(X(2))
      .fclose(5, 'a.tokudb').fclose(7, 'b.tokudb').fopen(5, 'b.tokudb')
      .begin(X(3)).put(X(3), 5, 'k', 'v').commit(X(3))
      .run();
    expect(rows(r)).toEqual({ 'a.tokudb': [], 'b.tokudb': [['k', 'v']] });
    expect(r.anomalies).toEqual([]);
  });

  // Scenario: fdelete removes the dictionary only when its transaction commits.
  it('Scenario: fdelete takes effect on commit, not on abort', () => {
    const aborted = withDict().begin(X(2)).fdelete(X(2), 5).abort(X(2)).run();
    expect(Object.keys(rows(aborted))).toEqual(['a.tokudb']);
    const committed = withDict().begin(X(2)).fdelete(X(2), 5).commit(X(2)).run();
    expect(Object.keys(rows(committed))).toEqual([]);
  });

  // Scenario: frename (inames with a trailing NUL) moves rows; an aborted rename moves back.
  it('Scenario: frename moves the rows and is undone by abort', () => {
    const base = (): Log => withDict().begin(X(2)).put(X(2), 5, 'k', 'v').commit(X(2)).begin(X(3)).frename(X(3), 'a.tokudb', 5, 'z.tokudb');
    expect(rows(base().commit(X(3)).run())).toEqual({ 'z.tokudb': [['k', 'v']] });
    expect(rows(base().abort(X(3)).run())).toEqual({ 'a.tokudb': [['k', 'v']] });
  });

  // Scenario: open and prepared transactions at the end are summarised, not applied; a
  // dictionary created by an open transaction does not exist.
  it('Scenario: live and prepared txns at the end are not applied', () => {
    const r = withDict()
      .begin(X(2)).put(X(2), 5, 'p', '1').prepare(X(2))
      .begin(X(3)).fcreate(X(3), 7, 'new.tokudb').put(X(3), 7, 'k', 'v').begin(X(3, 1), X(3)).put(X(3, 1), 5, 'c', '1')
      .run();
    expect(rows(r)).toEqual({ 'a.tokudb': [] });
    expect(r.pending.map((p) => [p.xid.parent, p.state, p.openChildren, p.pendingWrites])).toEqual([
      [2n, 'prepared', 0, 1],
      [3n, 'live', 1, 2],
    ]);
  });

  // Scenario: an update's result needs the application: the row is reported, not guessed,
  // but only when the updating transaction commits.
  it('Scenario: enq_update makes its key undetermined only if committed', () => {
    const setup = (): Log => withDict().begin(X(2)).put(X(2), 5, 'k', 'v').put(X(2), 5, 'j', 'w').commit(X(2)).begin(X(3)).update(X(3), 5, 'k');
    const c = setup().commit(X(3)).run();
    expect(rows(c)['a.tokudb']).toEqual([['j', 'w']]);
    expect(c.dictionaries[0]!.undeterminedKeys.map(bytesToKey)).toEqual(['k']);
    expect(c.notApplied.map((n) => n.record)).toEqual(['enq_update']);
    const a = setup().abort(X(3)).run();
    expect(rows(a)['a.tokudb']).toEqual([['j', 'w'], ['k', 'v']]);
    expect(a.notApplied).toEqual([]);
  });

  // Scenario: a log that does not start at LSN 1 is refused unless partial mode is asked for.
  it('Scenario: a log without LSN 1 is refused; partial mode accepts it', () => {
    const recs = withDict().begin(X(2)).put(X(2), 5, 'k', 'v').commit(X(2)).recs.slice(3);
    expect(() => replayRecords(recs)).toThrow(TokusimError);
    const r = replayRecords(recs, { partial: true });
    expect(r.firstLsn).toBe(4n);
    expect(r.anomalies.map((a) => a.record)).toContain('enq_insert'); // filenum 5 was never opened
  });

  // Scenario: a gap between LSNs is an error naming both LSNs.
  it('Scenario: non-consecutive LSNs are an lsn-gap error', () => {
    const recs = withDict().recs;
    const r = new LogReplayer();
    r.apply(recs[0]!);
    expect(() => r.apply(recs[2]!)).toThrow(/expected 2, actual 3/);
  });
});

// Property: for flat transactions over one dictionary, the replayed rows equal a plain map to
// which each transaction's puts/no-overwrite-puts/deletes are applied, in order, when (and
// only when) it commits.
describe('replay engine properties', () => {
  it('Property: replay equals applying committed transactions to a map', () => {
    const op = fc.record({
      txn: fc.integer({ min: 0, max: 3 }),
      kind: fc.constantFrom('put', 'noow', 'del', 'commit', 'abort'),
      key: fc.constantFrom('a', 'b', 'c', ''),
      value: fc.string({ maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const log = withDict();
        const model = new Map<string, string>();
        const live = new Map<number, Array<(m: Map<string, string>) => void>>();
        let next = 10;
        const ids = new Map<number, number>();
        for (const o of ops) {
          if (!live.has(o.txn)) {
            if (o.kind === 'commit' || o.kind === 'abort') continue;
            ids.set(o.txn, next);
            log.begin(X(next++));
            live.set(o.txn, []);
          }
          const xid = X(ids.get(o.txn)!);
          const q = live.get(o.txn)!;
          if (o.kind === 'put') {
            log.put(xid, 5, o.key, o.value);
            q.push((m) => void m.set(o.key, o.value));
          } else if (o.kind === 'noow') {
            log.putNoOverwrite(xid, 5, o.key, o.value);
            q.push((m) => void (m.has(o.key) || m.set(o.key, o.value)));
          } else if (o.kind === 'del') {
            log.del(xid, 5, o.key);
            q.push((m) => void m.delete(o.key));
          } else {
            if (o.kind === 'commit') {
              log.commit(xid);
              for (const f of q) f(model);
            } else log.abort(xid);
            live.delete(o.txn);
          }
        }
        const expected = [...model].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        expect(rows(log.run())['a.tokudb']).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe('replay on top of dictionary files (alreadyInFile)', () => {
  // Scenario: extract replays only what a dictionary file does not hold; the file's checkpoint
  // LSN decides, per write, and deletes are reported so the file's rows can be dropped.
  it('Scenario: writes at or below the file checkpoint are skipped; deletes and older-row damage are reported', () => {
    const log = withDict() // LSN 1..3
      .begin(X(2)).put(X(2), 5, 'old', 'in-file').del(X(2), 5, 'gone-in-file').commit(X(2)) // 4..7
      .begin(X(3)).put(X(3), 5, 'new', 'from-log').del(X(3), 5, 'deleted-later').commit(X(3)); // 8..11
    const seen: Array<[string, bigint, bigint]> = [];
    const r = replayRecords(log.recs, {
      alreadyInFile: (iname, writeLsn, commitLsn) => {
        seen.push([bytesToKey(iname), writeLsn, commitLsn]);
        return writeLsn <= 7n;
      },
    });
    const d = r.dictionaries.find((x) => bytesToKey(x.iname) === 'a.tokudb')!;
    expect(d.rows.map((x) => [bytesToKey(x.key), bytesToKey(x.value)])).toEqual([['new', 'from-log']]);
    expect(d.deletedKeys.map(bytesToKey)).toEqual(['deleted-later']);
    expect(d.olderRowsUndetermined).toBe(false);
    expect(seen).toEqual([
      ['a.tokudb', 5n, 7n],
      ['a.tokudb', 6n, 7n],
      ['a.tokudb', 9n, 11n],
      ['a.tokudb', 10n, 11n],
    ]);
  });

  // Scenario: on top of a file, insert_no_overwrite of a key the replay never saw may hit a
  // row the file holds, so it is undetermined; after a replayed delete it is known.
  it('Scenario: insert_no_overwrite is undetermined unless the replay deleted the key', () => {
    const log = withDict()
      .begin(X(2)).putNoOverwrite(X(2), 5, 'maybe', 'x').del(X(2), 5, 'known').putNoOverwrite(X(2), 5, 'known', 'y').commit(X(2));
    const r = replayRecords(log.recs, { alreadyInFile: () => false });
    const d = r.dictionaries[0]!;
    expect(d.rows.map((x) => bytesToKey(x.key))).toEqual(['known']);
    expect(d.undeterminedKeys.map(bytesToKey)).toEqual(['maybe']);
    expect(d.deletedKeys).toEqual([]);
  });

  // Scenario: a committed broadcast-like record (needs the application) marks the file's own
  // rows undetermined too; an aborted one does not.
  it('Scenario: a committed update of every row marks older rows undetermined', () => {
    const bcast = (commit: boolean): ReplayResult => {
      const l = withDict().begin(X(2));
      l.recs.push({ type: 'enq_updatebroadcast', filenum: 5, xid: X(2), extra: enc('!'), is_resetting_op: false, lsn: BigInt(l.recs.length + 1) } as unknown as LogRecord);
      return replayRecords((commit ? l.commit(X(2)) : l.abort(X(2))).recs, { alreadyInFile: () => false });
    };
    expect(bcast(true).dictionaries[0]!.olderRowsUndetermined).toBe(true);
    expect(bcast(false).dictionaries[0]!.olderRowsUndetermined).toBe(false);
  });
});
