// Buffered messages of non-leaf nodes, on trees made by the test-only layout-29 writer
// (tools/bench/ft-layout29-writer.ts): broadcasts reach every row below the buffer that holds
// them, updates need the application's update function (TOKUSIM_NEEDS_APPLICATION without
// it), and messages apply in MSN order whatever level holds them, skipping those a leaf
// already holds. The S8 reference files hold inserts, deletes, commits and aborts in
// buffers; these cases cover the message types S8 has none of.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openFtDictionary, type RowOptions } from '../../src/ft/dictionary.js';
import { FT_MSG, XR_DELETE, XR_INSERT, type Ule } from '../../src/ft/leafentry.js';
import { registerNodeCodecs } from '../../src/ft/node-codecs.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { ReadOnlyStorage } from '../../src/storage/read-only-storage.js';
import { FtLayout29Writer, MemorySink, WRITER_COMPRESSION, type WriterMessage } from '../../tools/bench/ft-layout29-writer.js';
import { rowsOf, runExtract } from '../extract/helpers.js';

registerNodeCodecs();

const dir = mkdtempSync(join(tmpdir(), 'tokusim-ft-messages-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const b = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));
const s = (u: Uint8Array): string => Buffer.from(u).toString('latin1');
const key = (i: number): string => `k${String(i).padStart(2, '0')}`;
const X = 0x40n; // a transaction with provisional records in the leaves

/** 30 rows k00..k29 (v-kNN), two of them with provisional records of X. */
function baseRows(): Array<[string, string | Ule]> {
  const rows: Array<[string, string | Ule]> = [];
  for (let i = 0; i < 30; i++) rows.push([key(i), `v-${key(i)}`]);
  rows[5] = [key(5), { uxrs: [{ type: XR_INSERT, xid: 0n, value: b('old-5') }, { type: XR_INSERT, xid: X, value: b('x-5') }], nc: 1 }];
  rows[17] = [key(17), { uxrs: [{ type: XR_INSERT, xid: 0n, value: b('old-17') }, { type: XR_DELETE, xid: X }], nc: 1 }];
  return rows;
}

/** Writes a tree of height 2 or more (small nodes, fanout 3) with these messages; returns its path. */
function writeTree(messages: WriterMessage[], opts: { leafMaxMsn?: bigint; rows?: Array<[string, string | Ule]> } = {}): string {
  const sink = new MemorySink();
  const w = new FtLayout29Writer({ sink, compression: WRITER_COMPRESSION.zlib, nodeSize: 160, basementNodeSize: 64, fanout: 3, messages, ...(opts.leafMaxMsn !== undefined ? { leafMaxMsn: opts.leafMaxMsn } : {}) });
  for (const [k, v] of opts.rows ?? baseRows()) {
    if (typeof v === 'string') w.add(b(k), b(v));
    else w.addEntry(b(k), v);
  }
  const r = w.finish();
  expect(r.height).toBeGreaterThanOrEqual(2);
  const path = join(dir, `t${files++}.tokudb`);
  writeFileSync(path, sink.image);
  return path;
}

async function rowsOfTree(path: string, opts: RowOptions = {}): Promise<Map<string, string>> {
  const d = await openFtDictionary(new ReadOnlyStorage(new NodeStorage()), path);
  const out = new Map<string, string>();
  try {
    for await (const r of d.committedRows(opts)) out.set(s(r.key), s(r.value));
  } finally {
    await d.close();
  }
  return out;
}

/** The rows without messages (every transaction committed): X's insert and delete count. */
function plainRows(): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < 30; i++) m.set(key(i), `v-${key(i)}`);
  m.set(key(5), 'x-5');
  m.delete(key(17));
  return m;
}

/** Appends "!" to the old value; a missing row becomes "from-nothing". */
const bang = (_k: Uint8Array, old: Uint8Array | null, extra: Uint8Array): Uint8Array => (old === null ? b('from-nothing') : Uint8Array.from(Buffer.concat([old, extra])));

describe('buffered messages in writer-made trees', () => {
  // Scenario: the control: with no messages the tree reads back as its entries resolve.
  it('Scenario: without messages the rows are the leaves\' own', async () => {
    expect(await rowsOfTree(writeTree([]))).toEqual(plainRows());
  });

  // Scenario: an UPDATE_BROADCAST_ALL in the buffers of the leaves' parents reaches every row
  // in every leaf and basement, and a key inserted by an earlier message; not a key an
  // earlier message deleted (PerconaFT removes that entry), nor a key inserted after it.
  it('Scenario: a broadcast update applies to every row below, in MSN order', async () => {
    const path = writeTree([
      { type: FT_MSG.INSERT, msn: 5n, key: b('k99'), value: b('new') },
      { type: FT_MSG.DELETE_ANY, msn: 6n, key: b(key(3)) },
      { type: FT_MSG.UPDATE_BROADCAST_ALL, msn: 10n, value: b('!') },
      { type: FT_MSG.INSERT, msn: 20n, key: b('k98'), value: b('late') },
    ]);
    const got = await rowsOfTree(path, { update: bang });
    const want = new Map<string, string>();
    for (const [k, v] of plainRows()) want.set(k, `${v}!`);
    want.delete(key(3));
    // k17's latest record is X's delete: the update finds no value.
    want.set(key(17), 'from-nothing');
    want.set('k99', 'new!');
    want.set('k98', 'late');
    expect(got).toEqual(want);
  });

  // Scenario: an entry a broadcast leaves with nothing (X's abort takes away the only insert
  // of a key X created) is gone for the broadcasts after it: the update does not bring it back.
  it('Scenario: a key emptied by one broadcast is not updated by the next', async () => {
    const rows = baseRows();
    rows.splice(8, 0, ['k07x', { uxrs: [{ type: XR_DELETE, xid: 0n }, { type: XR_INSERT, xid: X, value: b('x-7') }], nc: 1 }]);
    const path = writeTree(
      [
        { type: FT_MSG.ABORT_BROADCAST_TXN, msn: 8n, xids: [X] },
        { type: FT_MSG.UPDATE_BROADCAST_ALL, msn: 10n, value: b('!') },
      ],
      { rows },
    );
    const want = new Map<string, string>();
    for (const [k, v] of plainRows()) want.set(k, `${v}!`);
    want.set(key(5), 'old-5!');
    want.set(key(17), 'old-17!');
    expect(await rowsOfTree(path, { update: bang })).toEqual(want);
  });

  // Scenario: the same broadcast without an update function stops with one clear error.
  it('Scenario: a broadcast update without the update function is TOKUSIM_NEEDS_APPLICATION', async () => {
    const path = writeTree([{ type: FT_MSG.UPDATE_BROADCAST_ALL, msn: 10n, value: b('!') }]);
    await expect(rowsOfTree(path)).rejects.toMatchObject({ kind: 'needs-application', code: 'TOKUSIM_NEEDS_APPLICATION', message: expect.stringMatching(/UPDATE_BROADCAST_ALL message \(msn 10\) needs the application's update function/) });
  });

  // Scenario: a keyed UPDATE changes only its key (or makes a row where there was none) with
  // the function, and is TOKUSIM_NEEDS_APPLICATION without it.
  it('Scenario: an update message applies to its key only and needs the update function', async () => {
    const path = writeTree([
      { type: FT_MSG.UPDATE, msn: 7n, key: b(key(12)), value: b('?') },
      { type: FT_MSG.UPDATE, msn: 8n, key: b('k12a'), value: b('?') },
    ]);
    const want = plainRows();
    want.set(key(12), `v-${key(12)}?`);
    want.set('k12a', 'from-nothing');
    expect(await rowsOfTree(path, { update: bang })).toEqual(want);
    await expect(rowsOfTree(path)).rejects.toMatchObject({ kind: 'needs-application', message: expect.stringMatching(/UPDATE message \(msn 7\)/) });
  });

  // Scenario: an ABORT_BROADCAST_TXN of X in the root's buffers (every child's) removes X's
  // provisional records from every leaf below, even with every transaction taken as
  // committed; a COMMIT_BROADCAST_ALL makes them committed whatever the resolver says.
  it('Scenario: transaction broadcasts in the root reach every leaf', async () => {
    const aborted = await rowsOfTree(writeTree([{ type: FT_MSG.ABORT_BROADCAST_TXN, msn: 30n, xids: [X], height: 2 }]));
    const want = plainRows();
    want.set(key(5), 'old-5');
    want.set(key(17), 'old-17');
    expect(aborted).toEqual(want);

    const committedAll = await rowsOfTree(writeTree([{ type: FT_MSG.COMMIT_BROADCAST_ALL, msn: 30n, height: 2 }]), { committed: (xid) => xid !== X });
    expect(committedAll).toEqual(plainRows());
    // The control: without the broadcast, the same resolver leaves X's records out.
    const notX = await rowsOfTree(writeTree([]), { committed: (xid) => xid !== X });
    expect(notX.get(key(5))).toBe('old-5');
    expect(notX.get(key(17))).toBe('old-17');
  });

  // Scenario: messages apply in MSN order across levels (a newer message in a lower buffer
  // wins over an older one above, and the other way round), and a message at or below the
  // leaves' max MSN is already in them and is not applied again.
  it('Scenario: MSN order across levels, and messages a leaf already holds are skipped', async () => {
    const path = writeTree(
      [
        { type: FT_MSG.INSERT, msn: 40n, key: b(key(10)), value: b('upper-newer'), height: 2 },
        { type: FT_MSG.INSERT, msn: 35n, key: b(key(10)), value: b('lower-older'), height: 1 },
        { type: FT_MSG.INSERT, msn: 36n, key: b(key(11)), value: b('upper-older'), height: 2 },
        { type: FT_MSG.INSERT, msn: 41n, key: b(key(11)), value: b('lower-newer'), height: 1 },
        { type: FT_MSG.DELETE_ANY, msn: 15n, key: b(key(20)), height: 1 },
        { type: FT_MSG.DELETE_ANY, msn: 16n, key: b(key(21)), height: 2 },
      ],
      { leafMaxMsn: 15n },
    );
    const want = plainRows();
    want.set(key(10), 'upper-newer');
    want.set(key(11), 'lower-newer');
    want.delete(key(21));
    expect(await rowsOfTree(path)).toEqual(want);
  });

  // Scenario: where the writer put the messages: a keyed one in exactly one buffer (the
  // child whose key range holds it), a broadcast in every child buffer of every node at its
  // height, as PerconaFT's ft_nonleaf_msg_all does.
  it('Scenario: keyed messages sit in one buffer, broadcasts in every buffer at their height', async () => {
    const path = writeTree([
      { type: FT_MSG.INSERT, msn: 3n, key: b(key(22)), value: b('x') },
      { type: FT_MSG.COMMIT_BROADCAST_TXN, msn: 4n, xids: [X] },
    ]);
    const d = await openFtDictionary(new ReadOnlyStorage(new NodeStorage()), path);
    let buffers = 0;
    let keyed = 0;
    let broadcast = 0;
    try {
      for (const bn of d.nodeBlocknums()) {
        const n = await d.readNode(bn);
        if (n.height !== 1) continue;
        n.buffers.forEach((buf) => {
          buffers++;
          for (const m of buf.messages) {
            if (m.type === FT_MSG.COMMIT_BROADCAST_TXN) {
              broadcast++;
              expect(m.xids).toEqual([X]);
            } else keyed++;
          }
        });
      }
    } finally {
      await d.close();
    }
    expect(buffers).toBeGreaterThan(3);
    expect(broadcast).toBe(buffers);
    expect(keyed).toBe(1);
  });
});

describe('extract on a dictionary with buffered updates', () => {
  // Scenario: extract has no update function: a dictionary whose tree holds an update
  // message is reported with TOKUSIM_NEEDS_APPLICATION (exit 3) and its rows stop there,
  // while the other dictionaries are printed whole. No row is guessed.
  it('Scenario: extract names the update message and prints the other dictionaries', async () => {
    const env = mkdtempSync(join(dir, 'env-'));
    const write = (name: string, rows: Array<[string, string | Ule]>, messages: WriterMessage[] = []): void => {
      const sink = new MemorySink();
      const w = new FtLayout29Writer({ sink, nodeSize: 160, basementNodeSize: 64, fanout: 3, messages });
      for (const [k, v] of rows) {
        if (typeof v === 'string') w.add(b(k), b(v));
        else w.addEntry(b(k), v);
      }
      w.finish();
      writeFileSync(join(env, name), sink.image);
    };
    write('tokudb.environment', [['original_version', '\x1d\0\0\0']]);
    write('tokudb.directory', [['plain.db\0', 'plain_db.tokudb\0'], ['upd.db\0', 'upd_db.tokudb\0']]);
    write('plain_db.tokudb', baseRows());
    write('upd_db.tokudb', baseRows(), [{ type: FT_MSG.UPDATE, msn: 9n, key: b(key(25)), value: b('?') }]);
    const r = await runExtract(env);
    expect(r.code).toBe(3);
    expect(rowsOf(r.stdout, 'plain_db.tokudb')).toHaveLength(plainRows().size);
    // The leaf holding k25 is the one whose rows stop: no row from k25 on is printed.
    const upd = rowsOf(r.stdout, 'upd_db.tokudb').map((l) => l.split('\t')[0]);
    expect(upd).not.toContain(key(25));
    expect(upd.length).toBeGreaterThan(0);
    expect(upd.every((k) => k! < key(25))).toBe(true);
    expect(r.stderr).toMatch(/^tokusim: upd_db\.tokudb: rows stop where the tree needs the application: .*UPDATE message \(msn 9\)/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
