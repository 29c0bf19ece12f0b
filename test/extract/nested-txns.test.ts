// Scenario: nested transactions in a crashed PerconaFT environment. The dictionary file
// (written by the test-only layout-29 writer) holds provisional MVCC stacks of a root and its
// children as a checkpoint left them; the log (written by the log writer) shows what happened
// after that checkpoint: some children aborted, then the root committed, and another root
// stayed live. A child's abort after the checkpoint never reached the tree (no ABORT message),
// so only the log says its records are gone: extract must drop that child's level of every
// stack (and the levels inside it) while keeping its committed root's and siblings' records.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openFtDictionary } from '../../src/ft/dictionary.js';
import { XR_DELETE, XR_INSERT, XR_PLACEHOLDER, type Ule, type Uxr } from '../../src/ft/leafentry.js';
import { registerNodeCodecs } from '../../src/ft/node-codecs.js';
import { escapeBytes } from '../../src/format/json.js';
import type { TxnidPair } from '../../src/format/record-types.js';
import { LogWriter, type LogRecordInput } from '../../src/log/writer.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { ReadOnlyStorage } from '../../src/storage/read-only-storage.js';
import { FtLayout29Writer, WRITER_COMPRESSION } from '../../tools/bench/ft-layout29-writer.js';
import { rowsOf, runExtract, snapshotDir } from './helpers.js';

registerNodeCodecs();

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

const b = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));
const ins = (xid: bigint, v: string): Uxr => ({ type: XR_INSERT, xid, value: b(v) });
const del = (xid: bigint): Uxr => ({ type: XR_DELETE, xid });
const ph = (xid: bigint): Uxr => ({ type: XR_PLACEHOLDER, xid });
/** A stack: `committed` records (the first with xid 0), then provisional ones outermost first. */
const stack = (committed: Uxr[], provisional: Uxr[]): Ule => ({ uxrs: [...committed, ...provisional], nc: committed.length });

/** Writes a layout-29 dictionary file of the given entries (in key order) at path. */
function writeDictionary(path: string, entries: Array<[string, Ule | string]>, checkpointLsn: bigint): void {
  let image = new Uint8Array(0);
  const w = new FtLayout29Writer({
    checkpointLsn,
    compression: WRITER_COMPRESSION.zlib,
    // Small nodes: the entries spread over several basements and leaves under a root.
    nodeSize: 512,
    basementNodeSize: 128,
    fanout: 3,
    sink: {
      pwrite: (bytes, offset) => {
        if (offset + bytes.length > image.length) {
          const bigger = new Uint8Array(offset + bytes.length);
          bigger.set(image);
          image = bigger;
        }
        image.set(bytes, offset);
      },
    },
  });
  for (const [k, e] of entries) {
    if (typeof e === 'string') w.add(b(k), b(e));
    else w.addEntry(b(k), e);
  }
  w.finish();
  writeFileSync(path, image);
}

// Transactions (PerconaFT stores a root's id at level 0 and each child's own id below it).
const R = 0x10n; // root: commits after the checkpoint
const C = 0x11n; // child of R: aborts after the checkpoint
const G = 0x13n; // child of C: commits into C, which then aborts
const D = 0x12n; // child of R: commits after the checkpoint
const E = 0x14n; // child of D: aborts after the checkpoint
const P = 0x20n; // another root: still live at the end of the log
const pair = (parent: bigint, child = 0n): TxnidPair => ({ parent, child });

const NEST = 'nest_db_2_1_1d.tokudb';
/** The entries of the nest dictionary as the checkpoint left them, in key order. */
const NEST_ENTRIES: Array<[string, Ule | string]> = [
  ['a-new', stack([del(0n)], [ph(R), ins(C, 'a-child')])],
  ['b-over', stack([ins(0n, 'b-old')], [ph(R), ins(C, 'b-child')])],
  ['c-root', stack([ins(0n, 'c-old')], [ins(R, 'c-root'), ins(C, 'c-child')])],
  ['d-deep', stack([ins(0n, 'd-old')], [ph(R), ph(C), ins(G, 'd-grand')])],
  ['e-kept', stack([ins(0n, 'e-old')], [ph(R), ins(D, 'e-child')])],
  ['f-mid', stack([ins(0n, 'f-old')], [ins(R, 'f-root'), ph(D), ins(E, 'f-grand')])],
  ['g-clean', 'g-val'],
  ['h-del', stack([ins(0n, 'h-old')], [ph(R), del(C)])],
  ['i-multi', stack([del(0n), ins(5n, 'i-old'), ins(7n, 'i-newer')], [ins(R, 'i-root'), ins(D, 'i-child')])],
  ['j-rootdel', stack([ins(0n, 'j-old')], [del(R), ins(C, 'j-child')])],
  ['p-live', stack([ins(0n, 'p-old')], [ins(P, 'p-new')])],
];
/** What a reader sees once every transaction's fate is known. */
const EXPECTED: Array<[string, string]> = [
  ['b-over', 'b-old'],
  ['c-root', 'c-root'],
  ['d-deep', 'd-old'],
  ['e-kept', 'e-child'],
  ['f-mid', 'f-root'],
  ['g-clean', 'g-val'],
  ['h-del', 'h-old'],
  ['i-multi', 'i-child'],
  ['p-live', 'p-old'],
  ['z-after', 'written by R after the checkpoint'],
];
/** The rows a resolver that asks only about roots gives: the aborted children's records taken as committed. */
const WRONG_IF_ROOT_ONLY: Array<[string, string]> = [
  ['a-new', 'a-child'],
  ['b-over', 'b-child'],
  ['c-root', 'c-child'],
  ['d-deep', 'd-grand'],
  ['f-mid', 'f-grand'],
  ['j-rootdel', 'j-child'],
];

/** Builds the environment: three dictionary files checkpointed at one LSN, and the log. */
async function buildEnvironment(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tokusim-extract-nested-'));
  made.push(dir);
  const storage = new NodeStorage();
  const w = await LogWriter.open({ storage, dir });
  const log = (r: LogRecordInput): bigint => w.append(r);
  const open = (xid: TxnidPair, parentxid: TxnidPair = pair(0n)): void => void log({ type: 'xbegin', xid, parentxid });
  const put = (xid: TxnidPair, key: string, value: string): void => void log({ type: 'enq_insert', filenum: 5, xid, key: b(key), value: b(value) });
  // Txn 1 creates the dictionary (the directory's row for it is in the directory's file).
  open(pair(1n));
  log({ type: 'fcreate', xid: pair(1n), filenum: 5, iname: b(NEST), mode: 0o644, treeflags: 0, nodesize: 512, basementnodesize: 128, compression_method: WRITER_COMPRESSION.zlib });
  log({ type: 'xcommit', xid: pair(1n) });
  // The writes the checkpointed leaves hold (their effect is in the file).
  open(pair(R));
  put(pair(R), 'c-root', 'c-root');
  open(pair(R, C), pair(R));
  put(pair(R, C), 'a-new', 'a-child');
  put(pair(R, C), 'b-over', 'b-child');
  open(pair(R, G), pair(R, C));
  put(pair(R, G), 'd-deep', 'd-grand');
  open(pair(R, D), pair(R));
  put(pair(R, D), 'e-kept', 'e-child');
  open(pair(R, E), pair(R, D));
  put(pair(R, E), 'f-mid', 'f-grand');
  open(pair(P));
  put(pair(P), 'p-live', 'p-new');
  const cp = log({ type: 'begin_checkpoint', timestamp: 1n, last_xid: P });
  log({ type: 'fassociate', filenum: 5, treeflags: 0, iname: b(NEST), unlink_on_close: 0 });
  const stillOpen: Array<[TxnidPair, TxnidPair]> = [[pair(R), pair(0n)], [pair(R, C), pair(R)], [pair(R, D), pair(R)], [pair(R, G), pair(R, C)], [pair(R, E), pair(R, D)], [pair(P), pair(0n)]];
  for (const [xid, parentxid] of stillOpen) {
    log({
      type: 'xstillopen', xid, parentxid, rollentry_raw_count: 0n, open_filenums: [5], force_fsync_on_commit: 0,
      num_rollback_nodes: 0n, num_rollentries: 1n, spilled_rollback_head: 0n, spilled_rollback_tail: 0n, current_rollback: 0n,
    });
  }
  log({ type: 'end_checkpoint', lsn_begin_checkpoint: cp, timestamp: 2n, num_fassociate_entries: 1, num_xstillopen_entries: stillOpen.length });
  // After the checkpoint: G commits into C, C aborts, E aborts, D commits, R writes once
  // more and commits; P never ends.
  log({ type: 'xcommit', xid: pair(R, G) });
  log({ type: 'xabort', xid: pair(R, C) });
  log({ type: 'xabort', xid: pair(R, E) });
  log({ type: 'xcommit', xid: pair(R, D) });
  put(pair(R), 'z-after', 'written by R after the checkpoint');
  log({ type: 'xcommit', xid: pair(R) });
  await w.close();

  writeDictionary(join(dir, 'tokudb.environment'), [['original_version', '\x1d\0\0\0']], cp);
  writeDictionary(join(dir, 'tokudb.directory'), [['nest.db\0', `${NEST}\0`]], cp);
  writeDictionary(join(dir, NEST), NEST_ENTRIES, cp);
  return dir;
}

const lines = (rows: Array<[string, string]>): string[] => rows.map(([k, v]) => `${escapeBytes(b(k))}\t${escapeBytes(b(v))}`);

describe('extract: nested transactions resolved level by level', () => {
  // Scenario: the rows are those of the committed transactions only: C's and E's records
  // (and G's, inside C) are dropped, R's and D's are kept, P's are left out; every stack of
  // the file was written with placeholders for the levels that did nothing to the key.
  it('Scenario: children that aborted after the checkpoint leave no row, their committed root and siblings do', async () => {
    const dir = await buildEnvironment();
    const before = snapshotDir(dir);
    const r = await runExtract(dir);
    expect(snapshotDir(dir)).toEqual(before);
    expect(r.stderr).not.toMatch(/tokusim:|anomaly|incomplete/);
    expect(r.code).toBe(0);
    expect(rowsOf(r.stdout, NEST)).toEqual(lines(EXPECTED));
    for (const [k, v] of WRONG_IF_ROOT_ONLY) expect(r.stdout).not.toContain(`${k}\t${v}`);
    // Each left-out provisional entry is counted under the transaction whose level went.
    expect(r.stderr).toContain(`left out: ${NEST}: 6 provisional entries of txn 16,17 (aborted)\n`);
    expect(r.stderr).toContain(`left out: ${NEST}: 1 provisional entry of txn 16,20 (aborted)\n`);
    expect(r.stderr).toContain(`left out: ${NEST}: 1 provisional entry of txn 32,0 (still live at the end of the log)\n`);
    expect(r.stderr.match(/^left out:/gm)).toHaveLength(3);
    expect(r.stderr).toMatch(/not applied: txn 32,0 still live at the end of the log/);
  });

  // Scenario: the same environment as one JSON document lists the left-out entries per txn.
  it('Scenario: --json lists the left-out provisional entries of each dictionary', async () => {
    const r = await runExtract(await buildEnvironment(), { json: true });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { dictionaries: Array<{ iname: { text: string }; provisional_left_out: unknown[]; rows: unknown[] }> };
    const nest = doc.dictionaries.find((d) => d.iname.text === NEST)!;
    expect(nest.rows).toHaveLength(EXPECTED.length);
    expect(nest.provisional_left_out).toEqual([
      { xid: { parent: '16', child: '17' }, state: 'aborted', entries: 6 },
      { xid: { parent: '16', child: '20' }, state: 'aborted', entries: 1 },
      { xid: { parent: '32', child: '0' }, state: 'live', entries: 1 },
    ]);
    for (const d of doc.dictionaries.filter((x) => x.iname.text !== NEST)) expect(d.provisional_left_out).toEqual([]);
  });

  // Scenario: the row API itself. Asked only about roots (the `committed` option), the
  // aborted children's records come out as rows: the wrong rows the level resolver removes.
  it('Scenario: the root-only resolver yields the aborted children\'s rows; the level resolver does not', async () => {
    const dir = await buildEnvironment();
    const read = async (opts: Parameters<Awaited<ReturnType<typeof openFtDictionary>>['committedRows']>[0]): Promise<Array<[string, string]>> => {
      const d = await openFtDictionary(new ReadOnlyStorage(new NodeStorage()), join(dir, NEST));
      const out: Array<[string, string]> = [];
      try {
        for await (const row of d.committedRows(opts)) out.push([Buffer.from(row.key).toString('latin1'), Buffer.from(row.value).toString('latin1')]);
      } finally {
        await d.close();
      }
      return out;
    };
    const rootOnly = await read({ committed: (xid) => xid !== P });
    for (const row of WRONG_IF_ROOT_ONLY) expect(rootOnly).toContainEqual(row);
    expect(rootOnly.map(([k]) => k)).not.toContain('h-del');
    const aborted = new Set([C, E]);
    const seen: string[] = [];
    const levels = await read({
      committedLevel: (xids) => (xids.length === 1 ? xids[0] !== P : !aborted.has(xids[xids.length - 1]!)),
      onLeftOut: (xids, key) => seen.push(`${Buffer.from(key).toString('latin1')}:${xids.join('/')}`),
    });
    expect(levels).toEqual(EXPECTED.filter(([k]) => k !== 'z-after'));
    expect(seen).toEqual(['a-new:16/17', 'b-over:16/17', 'c-root:16/17', 'd-deep:16/17', 'f-mid:16/18/20', 'h-del:16/17', 'j-rootdel:16/17', 'p-live:32']);
  });
});
