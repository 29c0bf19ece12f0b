/**
 * A transaction's private write set: per dictionary (FILENUM) a map key -> last operation,
 * plus the dictionary-file operations (fcreate / fdelete) the transaction made. It is both
 * the transaction's read-your-own-writes overlay and the content of its rollback node in
 * tokudb.rollback (docs/engine.md "Rollback nodes").
 *
 * Rollback node format (ours, documented): "tokurbk1" magic, u32 row count, rows of
 * (u8 op, u32 filenum, u32 len + key, u32 len + value), u32 file-op count, file ops of
 * (u8 kind, u32 filenum, u32 len + iname) where kind 1 = fcreate, 2 = fdelete, 3 = frename
 * (followed by u32 len + new iname; filenum 0xFFFFFFFF when the file was not open). The block frame adds the length and x1764
 * checksum (checkpoint/checkpointable-dictionary.ts frameBlock).
 *
 * Invariants:
 *  - One entry per (filenum, key): a later write replaces the earlier one (last write wins).
 *  - A 'delete' entry has an empty value; ops are one of the three logged kinds.
 *  - decode(encode(ws)) equals ws; a bad magic, op or length is a TokusimError, never a
 *    partial write set.
 */
import { ByteReader, ByteWriter, checkClaimedSize } from '../base/bytes.js';
import { TokusimError } from '../base/errors.js';
import { compareKeys } from './btree/node.js';

/** The three row operations, named after the records that log them. */
export type RowOp = 'insert' | 'insert_no_overwrite' | 'delete';
const OP_CODE: Record<RowOp, number> = { insert: 1, insert_no_overwrite: 2, delete: 3 };
const CODE_OP: Record<number, RowOp> = { 1: 'insert', 2: 'insert_no_overwrite', 3: 'delete' };

/** One row written by a transaction: insert or delete of a key. */
export interface RowWrite {
  op: RowOp;
  key: Uint8Array;
  value: Uint8Array;
}

/** One file operation of a transaction: a dictionary file created, deleted or renamed. */
export interface FileOp {
  kind: 'fcreate' | 'fdelete' | 'frename';
  filenum: number;
  /** The file's iname (for frename: the old one). */
  iname: string;
  /** frename only: the iname it was renamed to. */
  newIname?: string;
}
const FILE_OP_CODE = { fcreate: 1, fdelete: 2, frename: 3 } as const;
const CODE_FILE_OP: Record<number, FileOp['kind']> = { 1: 'fcreate', 2: 'fdelete', 3: 'frename' };

const MAGIC = new TextEncoder().encode('tokurbk1');
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A key's map index: latin1 of the bytes (exact, and cheap). */
export function keyIndex(key: Uint8Array): string {
  let s = '';
  for (let i = 0; i < key.length; i += 4096) s += String.fromCharCode(...key.subarray(i, i + 4096));
  return s;
}

/** The writes a transaction made: rows per dictionary and file operations, applied at commit. */
export class WriteSet {
  /** The row writes per dictionary file number, by key. */
  readonly rows = new Map<number, Map<string, RowWrite>>();
  /** The file operations, in the order they were made. */
  readonly fileOps: FileOp[] = [];

  /** How many row writes the set holds. */
  get rowCount(): number {
    let n = 0;
    for (const m of this.rows.values()) n += m.size;
    return n;
  }

  /** True when the set holds no row write and no file operation. */
  get isEmpty(): boolean {
    return this.rowCount === 0 && this.fileOps.length === 0;
  }

  /** Records a copy of a row write to dictionary filenum, replacing an earlier write of the same key. */
  record(filenum: number, w: RowWrite): void {
    let m = this.rows.get(filenum);
    if (m === undefined) this.rows.set(filenum, (m = new Map()));
    m.set(keyIndex(w.key), { op: w.op, key: w.key.slice(), value: w.op === 'delete' ? new Uint8Array(0) : w.value.slice() });
  }

  /** This write set's write to key in dictionary filenum, if any. */
  lookup(filenum: number, key: Uint8Array): RowWrite | undefined {
    return this.rows.get(filenum)?.get(keyIndex(key));
  }

  /** This dictionary's writes sorted by key. */
  sorted(filenum: number): RowWrite[] {
    return [...(this.rows.get(filenum)?.values() ?? [])].sort((a, b) => compareKeys(a.key, b.key));
  }

  /** Child commit: the child's writes override the parent's. */
  mergeFrom(child: WriteSet): void {
    for (const [filenum, m] of child.rows) for (const w of m.values()) this.record(filenum, w);
    this.fileOps.push(...child.fileOps);
  }

  /** The write set's bytes, as stored in a rollback node. */
  encode(): Uint8Array {
    const w = new ByteWriter(64);
    w.bytes(MAGIC);
    w.u32(this.rowCount);
    for (const [filenum, m] of this.rows) {
      for (const r of m.values()) {
        w.u8(OP_CODE[r.op]).u32(filenum).u32(r.key.length).bytes(r.key).u32(r.value.length).bytes(r.value);
      }
    }
    w.u32(this.fileOps.length);
    for (const f of this.fileOps) {
      const name = enc.encode(f.iname);
      w.u8(FILE_OP_CODE[f.kind]).u32(f.filenum).u32(name.length).bytes(name);
      if (f.kind === 'frename') {
        const to = enc.encode(f.newIname ?? '');
        w.u32(to.length).bytes(to);
      }
    }
    return w.toBytes();
  }

  /** A write set read back from a rollback node's bytes; throws a TokusimError when they are damaged. */
  static decode(bytes: Uint8Array, what = 'rollback node'): WriteSet {
    // A rollback node is a whole checksummed block: a field running past its end is damage.
    const r = new ByteReader(bytes, 0, bytes.length, what, 0, 'bad-length');
    const magic = r.bytes(8, 'magic');
    if (dec.decode(magic) !== 'tokurbk1') {
      throw new TokusimError('bad-magic', 'not a tokusim rollback node', { file: what, offset: 0, expected: 'tokurbk1', actual: JSON.stringify(dec.decode(magic)) });
    }
    const ws = new WriteSet();
    // Every row takes at least 13 bytes: a count the node cannot hold is refused before the loop.
    const n = checkClaimedSize(r.u32('row count'), 0, r.remaining / 13, { file: what, offset: r.pos - 4, field: 'row count' });
    for (let i = 0; i < n; i++) {
      const at = r.pos;
      const op = CODE_OP[r.u8('op')];
      if (op === undefined) throw new TokusimError('bad-length', 'unknown rollback row op', { file: what, offset: at, expected: '1..3' });
      const filenum = r.u32('filenum');
      const key = r.bytes(r.u32('key length'), 'key');
      const value = r.bytes(r.u32('value length'), 'value');
      ws.record(filenum, { op, key, value });
    }
    const nf = checkClaimedSize(r.u32('file-op count'), 0, r.remaining / 9, { file: what, offset: r.pos - 4, field: 'file-op count' });
    for (let i = 0; i < nf; i++) {
      const at = r.pos;
      const kind = CODE_FILE_OP[r.u8('kind')];
      if (kind === undefined) throw new TokusimError('bad-length', 'unknown rollback file op', { file: what, offset: at, expected: '1..3' });
      const filenum = r.u32('filenum');
      const iname = dec.decode(r.bytes(r.u32('iname length'), 'iname'));
      if (kind === 'frename') ws.fileOps.push({ kind, filenum, iname, newIname: dec.decode(r.bytes(r.u32('new iname length'), 'new iname')) });
      else ws.fileOps.push({ kind, filenum, iname });
    }
    if (r.remaining !== 0) {
      throw new TokusimError('bad-length', 'trailing bytes after a rollback node', { file: what, offset: r.pos, expected: '0', actual: String(r.remaining) });
    }
    return ws;
  }
}
