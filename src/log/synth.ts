/**
 * A synthetic, valid log directory holding every record type with realistic values, written
 * through LogWriter (so LSNs, rollover and bytes are exactly what the writer produces). Used by
 * `tokusim synth-log`, the log benchmark and tests.
 *
 * The shape follows what PerconaFT writes: environment creation (xbegin, fcreate of
 * tokudb.environment and tokudb.directory, inserts, commit, a startup checkpoint); then
 * transactions (lazily logged xbegin, inserts/deletes/updates, nested children, aborts,
 * XA prepare then commit), dictionary creation/open/close/rename/delete, loads, hot indexes,
 * descriptor changes, periodic checkpoints with fassociate for every open dictionary and
 * xstillopen / xstillopenprepared for every transaction open at that moment, and a clean
 * shutdown (checkpoint, then `shutdown`). A tour of all 27 types comes first so even a tiny
 * log covers them all (shutdown_up_to_19 is never written by v29; it appears once anyway).
 *
 * Invariants:
 *  - The same options (seed included) give byte-identical files.
 *  - Every transaction's xbegin precedes its other records, parents precede children, and
 *    every transaction that is not still open at a checkpoint ends in xcommit or xabort.
 *  - Checkpoint records come in order begin, fassociate*, xstillopen*, end, and end's counts
 *    equal the numbers of fassociate and xstillopen(prepared) records written for it.
 */
import { invariant } from '../base/errors.js';
import type { LogRecordName, TxnidPair, Xid } from '../format/record-types.js';
import { Prng } from '../base/prng.js';
import type { Storage } from '../storage/storage.js';
import { LogWriter, type LogRecordInput } from './writer.js';

/** Options for {@link synthesizeLog}. */
export interface SynthOptions {
  storage: Storage;
  dir: string;
  /** Stop once about this many bytes of entries were logged (the tour is always written). */
  targetBytes: number;
  /** Size of each inserted value (default 100). */
  valueBytes?: number;
  seed?: number;
  lgMax?: number;
  bufferSize?: number;
  /** Called as records are logged, with the bytes logged so far. */
  onProgress?: (bytesLogged: number) => void;
}

/** What {@link synthesizeLog} wrote. */
export interface SynthResult {
  records: number;
  bytes: number;
  lastLsn: bigint;
  files: string[];
  counts: Record<string, number>;
}

const enc = new TextEncoder();
const bs = (s: string): Uint8Array => enc.encode(s);
const root = (id: bigint): TxnidPair => ({ parent: id, child: 0n });
const NONE: TxnidPair = { parent: 0n, child: 0n };

interface Dict {
  filenum: number;
  iname: Uint8Array;
  treeflags: number;
}

interface OpenTxn {
  xid: TxnidPair;
  parentxid: TxnidPair;
  writes: number;
  filenums: Set<number>;
  xa?: Xid;
}

class Synth {
  private readonly rng: Prng;
  private readonly w: LogWriter;
  private readonly valueBytes: number;
  private readonly pool: Uint8Array;
  private lastXid = 0n;
  private nextFilenum = 0;
  private dicts: Dict[] = [];
  private keyCounter = 0;
  private now = 1_700_000_000_000_000n;
  private lastBegin = 0n;
  /** Transactions deliberately left open across checkpoints. */
  private longRunning: OpenTxn[] = [];
  readonly counts: Record<string, number> = {};

  constructor(w: LogWriter, seed: number, valueBytes: number) {
    this.w = w;
    this.rng = new Prng(seed);
    this.valueBytes = valueBytes;
    this.pool = new Uint8Array(Math.max(65536, valueBytes * 4));
    // Printable-ish text, like typical row payloads, with an occasional binary byte.
    for (let i = 0; i < this.pool.length; i++) {
      this.pool[i] = this.rng.chance(0.02) ? this.rng.int(256) : 0x61 + this.rng.int(26);
    }
  }

  log(rec: LogRecordInput): bigint {
    this.counts[rec.type] = (this.counts[rec.type] ?? 0) + 1;
    return this.w.append(rec);
  }

  /** Encoded bytes logged so far. */
  get bytes(): number {
    return this.w.bytesAppended;
  }

  private tick(): bigint {
    this.now += BigInt(1 + this.rng.int(2000));
    return this.now;
  }

  private value(n = this.valueBytes): Uint8Array {
    const off = this.rng.int(this.pool.length - n + 1);
    return this.pool.subarray(off, off + n);
  }

  private key(): Uint8Array {
    return bs(`key${String(this.keyCounter++).padStart(10, '0')}`);
  }

  private pickDict(): Dict {
    const user = this.dicts.filter((d) => d.filenum >= 3);
    const list = user.length > 0 ? user : this.dicts;
    return list[this.rng.int(list.length)]!;
  }

  private begin(parent?: OpenTxn): OpenTxn {
    let xid: TxnidPair;
    if (parent === undefined) xid = root(++this.lastXid);
    else xid = { parent: parent.xid.parent, child: parent.xid.child + 1n + BigInt(this.rng.int(3)) };
    const t: OpenTxn = { xid, parentxid: parent?.xid ?? NONE, writes: 0, filenums: new Set() };
    this.log({ type: 'xbegin', xid, parentxid: t.parentxid });
    return t;
  }

  private put(t: OpenTxn, d: Dict, kind: 'insert' | 'nooverwrite' = 'insert'): void {
    const key = this.key();
    const value = this.value();
    const type = kind === 'insert' ? 'enq_insert' : 'enq_insert_no_overwrite';
    this.log({ type, filenum: d.filenum, xid: t.xid, key, value });
    t.writes++;
    t.filenums.add(d.filenum);
  }

  private end(t: OpenTxn, how: 'commit' | 'abort'): void {
    this.log({ type: how === 'commit' ? 'xcommit' : 'xabort', xid: t.xid });
  }

  private xa(): Xid {
    const g = 4 + this.rng.int(8);
    const q = this.rng.int(6);
    const data = bs(`gtrid-${this.lastXid}-`.padEnd(g, 'x').slice(0, g) + 'bqual'.slice(0, q));
    return { formatID: 0x1234, gtridLength: g, bqualLength: q, data };
  }

  createDict(name: string, t: OpenTxn, treeflags = 0): Dict {
    const d: Dict = { filenum: this.nextFilenum++, iname: bs(name), treeflags };
    this.log({
      type: 'fcreate', xid: t.xid, filenum: d.filenum, iname: d.iname, mode: 0o644, treeflags,
      nodesize: 4 << 20, basementnodesize: 128 << 10, compression_method: 1,
    });
    this.dicts.push(d);
    return d;
  }

  checkpoint(extraOpen: OpenTxn[] = []): void {
    const b = this.log({ type: 'begin_checkpoint', timestamp: this.tick(), last_xid: this.lastXid });
    for (const d of this.dicts) {
      this.log({ type: 'fassociate', filenum: d.filenum, treeflags: d.treeflags, iname: d.iname, unlink_on_close: 0 });
    }
    const open = [...this.longRunning, ...extraOpen].sort((a, c) =>
      a.xid.parent !== c.xid.parent ? (a.xid.parent < c.xid.parent ? -1 : 1) : a.xid.child < c.xid.child ? -1 : 1,
    );
    for (const t of open) {
      const common = {
        rollentry_raw_count: BigInt(t.writes * (40 + this.valueBytes)),
        open_filenums: [...t.filenums].sort((x, y) => x - y),
        force_fsync_on_commit: 0,
        num_rollback_nodes: 1n,
        num_rollentries: BigInt(t.writes),
        spilled_rollback_head: 0n,
        spilled_rollback_tail: 0n,
        current_rollback: BigInt(2 + Number(t.xid.parent % 50n)),
      };
      if (t.xa !== undefined) {
        this.log({ type: 'xstillopenprepared', xid: t.xid, xa_xid: t.xa, ...common });
      } else {
        this.log({ type: 'xstillopen', xid: t.xid, parentxid: t.parentxid, ...common });
      }
    }
    this.log({
      type: 'end_checkpoint', lsn_begin_checkpoint: b, timestamp: this.tick(),
      num_fassociate_entries: this.dicts.length, num_xstillopen_entries: open.length,
    });
    this.lastBegin = b;
  }

  get lastCheckpointBegin(): bigint {
    return this.lastBegin;
  }

  /** Environment creation, then one of every record type. */
  tour(): void {
    const t1 = this.begin();
    this.createDict('tokudb.rollback', t1);
    const env = this.createDict('tokudb.environment', t1, 4);
    this.log({ type: 'enq_insert', filenum: env.filenum, xid: t1.xid, key: bs('original_version'), value: Uint8Array.of(29, 0, 0, 0) });
    this.createDict('tokudb.directory', t1, 4);
    this.end(t1, 'commit');
    this.checkpoint();
    this.log({ type: 'comment', timestamp: this.tick(), comment: bs('recover') });
    this.log({ type: 'shutdown_up_to_19', timestamp: this.tick() });

    const t = this.begin();
    const a = this.createDict(`synth_a_${t.xid.parent}_1d.tokudb`, t);
    const b = this.createDict(`synth_b_${t.xid.parent}_1d.tokudb`, t);
    this.put(t, a);
    this.put(t, b, 'nooverwrite');
    this.log({ type: 'enq_delete_any', filenum: a.filenum, xid: t.xid, key: bs('key0000000000') });
    this.log({ type: 'enq_update', filenum: a.filenum, xid: t.xid, key: bs('key0000000000'), extra: bs('+1') });
    this.log({ type: 'enq_updatebroadcast', filenum: b.filenum, xid: t.xid, extra: bs('reset'), is_resetting_op: true });
    this.log({ type: 'enq_insert_multiple', src_filenum: a.filenum, dest_filenums: [b.filenum], xid: t.xid, src_key: bs('sk'), src_val: this.value(16) });
    this.log({ type: 'enq_delete_multiple', src_filenum: a.filenum, dest_filenums: [b.filenum], xid: t.xid, src_key: bs('sk'), src_val: this.value(16) });
    this.log({ type: 'change_fdescriptor', filenum: a.filenum, xid: t.xid, old_descriptor: bs(''), new_descriptor: bs('cmp:v2'), update_cmp_descriptor: true });
    this.log({ type: 'hot_index', xid: t.xid, hot_index_filenums: [a.filenum, b.filenum] });
    this.log({ type: 'load', xid: t.xid, old_filenum: b.filenum, new_iname: bs(`synth_b_${t.xid.parent}_2d.tokudb`) });
    const child = this.begin(t);
    this.put(child, a);
    this.end(child, 'commit');
    this.end(t, 'commit');

    // A prepared transaction and an open one, both seen by a checkpoint, then finished.
    const p = this.begin();
    this.put(p, a);
    p.xa = this.xa();
    this.log({ type: 'xprepare', xid: p.xid, xa_xid: p.xa });
    const o = this.begin();
    this.put(o, b);
    this.checkpoint([p, o]);
    this.end(p, 'commit');
    this.end(o, 'abort');

    const r = this.begin();
    this.log({ type: 'frename', xid: r.xid, old_iname: bs(`synth_b_${t.xid.parent}_1d.tokudb\0`), old_filenum: b.filenum, new_iname: bs(`synth_b_renamed.tokudb\0`) });
    this.end(r, 'commit');
    this.log({ type: 'fclose', iname: b.iname, filenum: b.filenum });
    this.dicts = this.dicts.filter((d) => d !== b);
    this.log({ type: 'fopen', iname: b.iname, filenum: b.filenum, treeflags: 0 });
    this.dicts.push(b);
    const del = this.begin();
    this.log({ type: 'fdelete', xid: del.xid, filenum: b.filenum });
    this.end(del, 'commit');
    this.log({ type: 'fclose', iname: b.iname, filenum: b.filenum });
    this.dicts = this.dicts.filter((d) => d !== b);
    const c = this.begin();
    this.createDict(`synth_c_${c.xid.parent}_1d.tokudb`, c);
    this.end(c, 'commit');
  }

  /** One unit of ordinary traffic. */
  traffic(): void {
    const roll = this.rng.int(100);
    if (roll < 70) {
      const t = this.begin();
      const n = 1 + this.rng.int(8);
      for (let i = 0; i < n; i++) this.put(t, this.pickDict(), this.rng.chance(0.1) ? 'nooverwrite' : 'insert');
      if (this.rng.chance(0.2)) this.log({ type: 'enq_delete_any', filenum: this.pickDict().filenum, xid: t.xid, key: bs(`key${String(this.rng.int(this.keyCounter + 1)).padStart(10, '0')}`) });
      this.end(t, this.rng.chance(0.08) ? 'abort' : 'commit');
    } else if (roll < 80) {
      const t = this.begin();
      const child = this.begin(t);
      this.put(child, this.pickDict());
      this.end(child, this.rng.chance(0.3) ? 'abort' : 'commit');
      this.put(t, this.pickDict());
      this.end(t, 'commit');
    } else if (roll < 86) {
      const t = this.begin();
      const d = this.pickDict();
      this.log({ type: 'enq_update', filenum: d.filenum, xid: t.xid, key: this.key(), extra: this.value(8) });
      if (this.rng.chance(0.2)) this.log({ type: 'enq_updatebroadcast', filenum: d.filenum, xid: t.xid, extra: bs('bump'), is_resetting_op: false });
      this.end(t, 'commit');
    } else if (roll < 91) {
      const t = this.begin();
      const d = this.pickDict();
      const type = this.rng.chance(0.7) ? 'enq_insert_multiple' : 'enq_delete_multiple';
      this.log({ type, src_filenum: d.filenum, dest_filenums: [d.filenum], xid: t.xid, src_key: this.key(), src_val: this.value() });
      this.end(t, 'commit');
    } else if (roll < 95) {
      const t = this.begin();
      this.put(t, this.pickDict());
      t.xa = this.xa();
      this.log({ type: 'xprepare', xid: t.xid, xa_xid: t.xa });
      this.end(t, 'commit');
    } else if (roll < 97 && this.longRunning.length < 3) {
      const t = this.begin();
      this.put(t, this.pickDict());
      this.longRunning.push(t);
    } else if (roll < 99 && this.longRunning.length > 0) {
      const t = this.longRunning.shift()!;
      this.end(t, this.rng.chance(0.5) ? 'commit' : 'abort');
    } else {
      const t = this.begin();
      this.createDict(`synth_${t.xid.parent}_1d.tokudb`, t);
      this.end(t, 'commit');
      // Keep a bounded set of open dictionaries: close the oldest user one, as an app would.
      const user = this.dicts.filter((d) => d.filenum >= 3);
      if (user.length > 8) {
        const old = user[0]!;
        this.log({ type: 'fclose', iname: old.iname, filenum: old.filenum });
        this.dicts = this.dicts.filter((d) => d !== old);
      }
    }
  }

  shutdown(): void {
    for (const t of this.longRunning) this.end(t, 'commit');
    this.longRunning = [];
    this.checkpoint();
    this.log({ type: 'shutdown', timestamp: this.tick(), last_xid: this.lastXid });
  }
}

/** Write a synthetic log into dir (which must exist and hold no logs of its own). */
export async function synthesizeLog(opts: SynthOptions): Promise<SynthResult> {
  const valueBytes = opts.valueBytes ?? 100;
  invariant(Number.isInteger(valueBytes) && valueBytes >= 0 && valueBytes <= 1 << 24, 'valueBytes out of range');
  const lgMax = opts.lgMax ?? 100 << 20;
  const bufferSize = opts.bufferSize ?? Math.max(4096, Math.min(1 << 24, Math.floor(lgMax / 8)));
  const w = await LogWriter.open({ storage: opts.storage, dir: opts.dir, lgMax, bufferSize });
  const s = new Synth(w, opts.seed ?? 1, valueBytes);
  s.tour();
  let nextCheckpoint = 2 << 20;
  let lastReport = 0;
  let commitsSinceSync = 0;
  while (s.bytes < opts.targetBytes) {
    s.traffic();
    if (s.bytes >= nextCheckpoint) {
      s.checkpoint();
      await w.fsync();
      nextCheckpoint = s.bytes + (8 << 20);
    }
    if (++commitsSinceSync >= 64) {
      commitsSinceSync = 0;
      await w.flush();
    }
    if (opts.onProgress && s.bytes - lastReport >= 1 << 20) {
      lastReport = s.bytes;
      opts.onProgress(s.bytes);
    }
  }
  s.shutdown();
  await w.close();
  const files = w.logFiles().map((f) => f.path);
  const stats = w.stats();
  return { records: stats.records, bytes: stats.bytesWritten, lastLsn: w.lastLsn, files, counts: s.counts };
}

/** Names of every record type, for coverage checks. */
export type SynthCounts = Partial<Record<LogRecordName, number>>;
