// Scenarios: `tokusim extract` on real PerconaFT environments (fixtures/perconaft, made by
// PerconaFT itself). Each environment directory is rebuilt in a temporary folder from the
// scenario's dicts/ and logs/ (as they sat together in the engine's directory). The expected
// rows come from the rules in each SCENARIO.md, written out here, or, for S8, from the rows
// PerconaFT read back through a cursor (rows/*.rows.tsv).
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { escapeBytes } from '../../src/format/json.js';
import { openExtraction } from '../../src/extract/extract.js';
import { registerNodeCodecs } from '../../src/ft/node-codecs.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { ReadOnlyStorage } from '../../src/storage/read-only-storage.js';
import { rowsOf, runExtract, snapshotDir } from './helpers.js';

const F = join(import.meta.dirname, '..', '..', 'fixtures', 'perconaft');
const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A temporary environment directory holding the files of the given fixture folders. */
function envFrom(...folders: string[]): string {
  const d = mkdtempSync(join(tmpdir(), 'tokusim-extract-ref-'));
  made.push(d);
  for (const f of folders) for (const n of readdirSync(join(F, f))) cpSync(join(F, f, n), join(d, n), { recursive: true });
  return d;
}

const b = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const raw = (...bytes: number[]): Uint8Array => Uint8Array.from(bytes);
const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));
/** Expected TSV lines (without the iname column) of rows, sorted by key bytes. */
function lines(rows: Array<[Uint8Array, Uint8Array]>): string[] {
  return [...rows].sort((x, y) => Buffer.compare(x[0], y[0])).map(([k, v]) => `${escapeBytes(k)}\t${escapeBytes(v)}`);
}
const pad = (n: number, w: number): string => String(n).padStart(w, '0');

describe('tokusim extract on PerconaFT reference environments', () => {
  // Scenario S8: six dictionaries, one per compression method, height-2 trees with buffered
  // messages and provisional entries, and the whole log (44728 records; stored gzipped in the
  // fixtures, unpacked into the environment here). Extract gives exactly the rows PerconaFT
  // read back: every dictionary was checkpointed at its own fclose, after its last write, so
  // the replay finds every write already in the files, and the after-checkpoint transactions
  // the leaves hold provisionally are resolved as committed from the log.
  it('Scenario: S8 with its log: rows equal rows/*.rows.tsv for every dictionary, and the directory is untouched', async () => {
    const dir = envFrom('S8_node_formats/dicts');
    const log = gunzipSync(readFileSync(join(F, 'S8_node_formats', 'log_gz', 'log000000000000.tokulog29.gz')));
    expect(createHash('sha256').update(log).digest('hex')).toBe(readFileSync(join(F, 'S8_node_formats', 'log_gz', 'SHA256SUMS'), 'utf8').split(/\s+/)[0]);
    writeFileSync(join(dir, 'log000000000000.tokulog29'), log);
    const before = snapshotDir(dir);
    const r = await runExtract(dir);
    expect(snapshotDir(dir)).toEqual(before);
    expect(r.stderr).not.toMatch(/tokusim:|incomplete|not applied|left out|anomaly/);
    expect(r.stderr).toMatch(/log: 44728 records, LSN 1\.\.44728, 1 file\(s\)/);
    expect(r.code).toBe(0);
    const expected = readFileSync(join(F, 'S8_node_formats', 'rows', 'none_db_2_1_1d.tokudb.rows.tsv'), 'latin1');
    const sums = readFileSync(join(F, 'S8_node_formats', 'rows', 'SHA256SUMS'), 'utf8');
    const inames = ['none_db_2_1_1d.tokudb', 'zlib_db_2_3_1d.tokudb', 'zlibck_db_2_4_1d.tokudb', 'quicklz_db_2_5_1d.tokudb', 'lzma_db_2_6_1d.tokudb', 'snappy_db_2_7_1d.tokudb'];
    for (const iname of inames) {
      const got = rowsOf(r.stdout, iname).map((l) => `${l}\n`).join('');
      expect(got.length, iname).toBe(expected.length);
      expect(got === expected, iname).toBe(true);
      // And against PerconaFT's own file for that dictionary, by its recorded hash.
      const sha = createHash('sha256').update(Buffer.from(got, 'latin1')).digest('hex');
      expect(sums).toContain(`${sha}  ${iname}.rows.tsv`);
    }
    // tokudb.directory maps each dname (with its NUL) to its iname.
    expect(rowsOf(r.stdout, 'tokudb.directory')).toEqual(lines(inames.map((i) => [b(`${i.split('_db_')[0]}.db\0`), b(`${i}\0`)])));
  });

  // Scenario: the bound of the replay's memory (docs/extract.md "Memory and speed"): S8's log
  // holds every write of its dictionaries (44 728 records, from LSN 1), all at or below their
  // files' checkpoints, so the overlay the replay keeps holds none of them; the rows come from the files, in
  // batches whose bytes live in the reused leaf memory.
  it('Scenario: S8: the replay keeps no rows of writes its files already hold', async () => {
    registerNodeCodecs();
    const dir = envFrom('S8_node_formats/dicts');
    writeFileSync(join(dir, 'log000000000000.tokulog29'), gunzipSync(readFileSync(join(F, 'S8_node_formats', 'log_gz', 'log000000000000.tokulog29.gz'))));
    const ex = await openExtraction(new ReadOnlyStorage(new NodeStorage()), dir);
    try {
      expect(ex.log.records).toBe(44728);
      const user = ex.dictionaries.filter((d) => !d.system);
      expect(user).toHaveLength(6);
      for (const d of user) {
        const name = Buffer.from(d.iname).toString('latin1');
        expect(d.overlay.rows.length + d.overlay.deletedKeys.length + d.overlay.undeterminedKeys.length, name).toBe(0);
        let rows = 0;
        for await (const batch of d.rowBatches({ reuseMemory: true })) rows += batch.length;
        expect(rows, name).toBe(6200);
        expect(d.counts, name).toEqual({ fromFile: 6200, fromLog: 0, deletedByLog: 0, withheld: 0, outOfOrder: false });
      }
    } finally {
      await ex.close();
    }
  });

  // Scenario S1: 50 single-insert txns over three dictionaries, one checkpoint, clean close.
  it('Scenario: S1 gives key%03d -> value-%03d-s1 in dictionary i mod 3', async () => {
    const r = await runExtract(envFrom('S1_basic/dicts', 'S1_basic/logs'));
    expect(r.code).toBe(0);
    const names = ['alpha_db_2_1_1d.tokudb', 'beta_db_2_3_1d.tokudb', 'gamma_db_2_4_1d.tokudb'];
    names.forEach((iname, m) => {
      const rows: Array<[Uint8Array, Uint8Array]> = [];
      for (let i = m; i < 50; i += 3) rows.push([b(`key${pad(i, 3)}`), b(`value-${pad(i, 3)}-s1`)]);
      expect(rowsOf(r.stdout, iname), iname).toEqual(lines(rows));
    });
    // The environment dictionary's rows are PerconaFT's own (version and creation time).
    expect(rowsOf(r.stdout, 'tokudb.environment').map((l) => l.split('\t')[0])).toEqual(['creation_time', 'current_version', 'original_version']);
  });

  // Scenario S2: a parent with a committed child commits, a sibling aborts (both open at a
  // checkpoint), and a dictionary reopened later gets one more committed row.
  it('Scenario: S2 keeps A and its child A1 and C, and drops the aborted B', async () => {
    const r = await runExtract(envFrom('S2_open_txns_at_checkpoint/dicts', 'S2_open_txns_at_checkpoint/logs'));
    expect(r.code).toBe(0);
    expect(rowsOf(r.stdout, 'one_db_2_1_1d.tokudb')).toEqual(lines([0, 1, 2].map((i) => [b(`a-key${i}`), b(`a-val${i}`)] as [Uint8Array, Uint8Array]).concat([[b('c-key0'), b('c-val0')]])));
    expect(rowsOf(r.stdout, 'two_db_2_3_1d.tokudb')).toEqual(lines([0, 1].map((i) => [b(`a1-key${i}`), b(`a1-val${i}`)])));
  });

  // Scenario S4: 3000 rows over four rounds; the log files before the last one were trimmed
  // by the engine, so the replay is partial and every row comes from the dictionary files.
  it('Scenario: S4 gives all 3000 rows split by parity, from the files with a trimmed log', async () => {
    const r = await runExtract(envFrom('S4_rollover/dicts', 'S4_rollover/logs'));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/older log files are gone: partial replay/);
    const rows: Array<Array<[Uint8Array, Uint8Array]>> = [[], []];
    for (let n = 0; n < 3000; n++) {
      let v = `row${pad(n, 5)}:`;
      for (let q = 9; q < 300; q++) v += String.fromCharCode(0x61 + ((n + q) % 26));
      rows[n % 2]!.push([b(`r${Math.floor(n / 750)}-k${pad(n, 5)}`), b(v)]);
    }
    expect(rowsOf(r.stdout, 'roll0_db_2_1_1d.tokudb')).toEqual(lines(rows[0]!));
    expect(rowsOf(r.stdout, 'roll1_db_2_3_1d.tokudb')).toEqual(lines(rows[1]!));
  });

  // Scenario S6: 20 rounds of three rows, a checkpoint after each.
  it('Scenario: S6 gives cNN-j -> vNN-j, j = 0 and 2 in cp0, j = 1 in cp1', async () => {
    const r = await runExtract(envFrom('S6_many_checkpoints/dicts', 'S6_many_checkpoints/logs'));
    expect(r.code).toBe(0);
    const rows: Array<Array<[Uint8Array, Uint8Array]>> = [[], []];
    for (let c = 0; c < 20; c++) for (const j of [0, 1, 2]) rows[j === 1 ? 1 : 0]!.push([b(`c${pad(c, 2)}-${j}`), b(`v${pad(c, 2)}-${j}`)]);
    expect(rowsOf(r.stdout, 'cp0_db_2_1_1d.tokudb')).toEqual(lines(rows[0]!));
    expect(rowsOf(r.stdout, 'cp1_db_2_3_1d.tokudb')).toEqual(lines(rows[1]!));
  });

  // Scenario S7 crash: the process died with two prepared and three open transactions, after
  // committed work both before and after the last checkpoint, a bulk load after it, a rename
  // and a file created by an open transaction (0 bytes). tdb-recover segfaults here; extract
  // gives the committed rows and reports the five unresolved transactions.
  it('Scenario: S7 crash gives the committed rows of every dictionary and reports the prepared and open txns', async () => {
    const dir = envFrom('S7_all_types/crash/dicts', 'S7_all_types/crash/logs');
    const before = snapshotDir(dir);
    const r = await runExtract(dir);
    expect(snapshotDir(dir)).toEqual(before);
    expect(r.stderr).not.toMatch(/tokusim:/);
    expect(r.code).toBe(0);
    const dnames = ['s7_archive', 's7_doomed_v2', 's7_ledger', 's7_ledger_idx', 's7_notes'];
    const inames = ['s7_archive_9_2_1d_B_0.tokudb', 's7_doomed_v2_8_1_1d.tokudb', 's7_ledger_2_1_1d.tokudb', 's7_ledger_idx_2_3_1d.tokudb', 's7_notes_2_4_1d.tokudb'];
    // T_create_open's dictionary (s7_uncommitted) is not committed: not listed.
    expect(rowsOf(r.stdout, 'tokudb.directory')).toEqual(lines(dnames.map((d, i) => [b(`${d}\0`), b(`${inames[i]}\0`)])));
    expect(r.stdout).not.toMatch(/s7_uncommitted/);
    // P1 (prepared) changed acct"A" and deleted acct\B; P2 (prepared) added acct-late: none
    // committed. T_late committed acct-z after the checkpoint (its no-overwrite put is ignored).
    expect(rowsOf(r.stdout, 's7_ledger_2_1_1d.tokudb')).toEqual(
      lines([
        [b('acct"A"'), b('balance=100')],
        [b('acct\\B'), b('balance=2500')],
        [b('acct\nC'), b('balance=-7')],
        [b('acct\t€'), raw(0x00, 0x80, 0xff)],
        [b('acct-z'), b('balance=0')],
      ]),
    );
    // gen:len rows of put_multiple: 4-byte big-endian value length + primary key -> primary key.
    const len = (n: number): Uint8Array => raw(0, 0, 0, n);
    expect(rowsOf(r.stdout, 's7_ledger_idx_2_3_1d.tokudb')).toEqual(
      lines([
        [cat(len(11), b('acct"A"')), b('acct"A"')],
        [cat(len(12), b('acct\\B')), b('acct\\B')],
        [cat(len(10), b('acct\nC')), b('acct\nC')],
        [cat(len(3), b('acct\t€')), b('acct\t€')],
      ]),
    );
    // T_after (committed before the last checkpoint) deleted note-0 and added note-3; P1's
    // update of note-1 is prepared only; T_open's row is not committed; T_late deleted note-2.
    expect(rowsOf(r.stdout, 's7_notes_2_4_1d.tokudb')).toEqual(lines([[b('note-1'), b('second\\note')], [b('note-3'), b('after checkpoint #2')]]));
    // T_after's broadcast appended "!" (the update callback); the rename committed, the
    // removal by the open T_remove_open did not.
    expect(rowsOf(r.stdout, 's7_doomed_v2_8_1_1d.tokudb')).toEqual(lines([[b('d'), b('soon gone!')]]));
    // The loader's rows are read from the loaded file.
    expect(rowsOf(r.stdout, 's7_archive_9_2_1d_B_0.tokudb')).toEqual(lines([[b('arc-1'), b('one')], [b('arc-2'), b('two')], [b('arc"3"'), b('three')]]));
    for (const [xid, state] of [['4', 'prepared'], ['5', 'live'], ['7', 'prepared'], ['10', 'live'], ['11', 'live']]) {
      expect(r.stderr).toMatch(new RegExp(`not applied: txn ${xid},0 still ${state} at the end of the log`));
    }
  });

  // Scenario S7 clean: loader, put_multiple/del_multiple, updates and broadcasts, renames and
  // removes, prepared txns, all before the final checkpoints of a clean close: every row comes
  // from the files. Checked here: the dictionaries whose rows the scenario states plainly.
  it('Scenario: S7 clean gives the loaded, multiple-put and renamed dictionaries their rows', async () => {
    const r = await runExtract(envFrom('S7_all_types/clean/dicts', 'S7_all_types/clean/logs'));
    expect(r.stderr).not.toMatch(/tokusim:/);
    expect(r.code).toBe(0);
    expect(rowsOf(r.stdout, 's7_bulk_f_3_1d_B_0.tokudb')).toEqual(
      lines([
        [b('bulk"c"'), b('3rd')],
        [b('bulk\\a'), b('1st')],
        [b('bulk\nb'), b('2nd-longer')],
        [cat(b('bulk'), raw(0xe9)), b('€')],
        [b('bulk-e'), b('')],
      ]),
    );
    // put_multiple's source rows; cust⇥8 was deleted by del_multiple.
    expect(rowsOf(r.stdout, 's7_customers_d_1_1d.tokudb')).toEqual(lines([[b('cust"7"'), b('Zoë \\ Q\n')], [b('cust-9'), b('')]]));
    // gen:prefix rows: first <= 8 bytes of the value + "|" + primary key -> primary key.
    expect(rowsOf(r.stdout, 's7_customers_idx_d_2_1d.tokudb')).toEqual(lines([[cat(b('Zoë \\ Q'), b('|cust"7"')), b('cust"7"')], [b('|cust-9'), b('cust-9')]]));
    // The removed dictionary is gone; the renamed one is listed under its new name.
    expect(r.stdout).not.toMatch(/s7_scratch/);
    expect(rowsOf(r.stdout, 'tokudb.directory').map((l) => l.split('\t')[0])).toContain('s7_items_v2\\000');
    // s7_orders: T_fill's rows, less ord"0001" (deleted by T_dml), ord⏎0002⇥tab unchanged by
    // the ignored no-overwrite put, ord-4k with T_dml's update appended, T_long.child's row,
    // T_dml's new rows and P_commit's (prepared, then committed).
    const fourK = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7 + 3) & 0xff);
    expect(rowsOf(r.stdout, 's7_orders_4_1_1d.tokudb')).toEqual(
      lines([
        [b(''), b('empty-key-row')],
        [b('ord\n0002\ttab'), b('line1\nline2\tcol')],
        [b('ord-empty-val'), b('')],
        [raw(0x80, 0x81, 0x9f, 0xa0, 0xc3, 0xa9, 0xfe, 0xff, 0x68, 0x69), Uint8Array.from({ length: 16 }, (_, i) => 0xf0 + i)],
        [b('ord-4k'), cat(fourK, b('+appended\\"'))],
        [b('ord-child'), b('pending-child')],
        [b('ord-new-noow'), b('fresh')],
        [b('ord-unique'), b('unique-val')],
        [b('prep"A"'), b('to-commit')],
      ]),
    );
    // s7_items_v2 (s7_items renamed): T_fill.child's and T_long's rows and the row T_dml's
    // update created, each with T_dml's broadcast "|bcast⇥1" appended; P_abort's delete was
    // aborted and T_other's delete of a missing key too; then P_commit's child and T_reopen.
    const bc = (v: Uint8Array): Uint8Array => cat(v, b('|bcast\t1'));
    expect(rowsOf(r.stdout, 's7_items_v2_15_1_1d.tokudb')).toEqual(
      lines([
        [b("item'apostrophe'"), bc(b('v\x7fDEL'))],
        [b('item\0nul'), bc(b('nul-in-key'))],
        [b('item\\path\\x'), bc(b('"quoted"'))],
        [b('ctl\x01\x02\x1b\x0d\x0b\x0c\x08\x07'), bc(b('control-bytes-key'))],
        [b('item-long-1'), bc(b('pending'))],
        [b('item-absent'), bc(b('created-by-update'))],
        [b('prep-child'), b('c')],
        [b('after-rename'), b('ok')],
      ]),
    );
  });
});
