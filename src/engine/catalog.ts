/**
 * The catalog (docs/engine.md): dictionaries by name. tokudb.directory maps each name to the
 * iname of its file; creating, opening, renaming and removing a dictionary by name is a
 * transaction on that directory together with the file operation it logs (fcreate, fopen,
 * frename, fdelete), and closing the last handle of a dictionary closes its file like
 * PerconaFT's ft_close.
 *
 * Invariants:
 *  - The directory row and the file operation of a create, rename or remove are in the same
 *    transaction; the file is created before the row is written, renamed after frename is
 *    durable, and removed only when the transaction commits.
 *  - A name is 1-100 of [A-Za-z0-9_.-] and never starts with "tokudb.".
 *  - A dictionary's file is closed only when no handle and no live transaction uses it.
 */
import { TokusimError } from '../base/errors.js';
import type { Cachetable } from '../cachetable/cachetable.js';
import type { CheckpointLocks } from '../checkpoint/locks.js';
import type { LogRecordInput } from '../log/writer.js';
import type { Clock } from '../storage/clock.js';
import type { Storage } from '../storage/storage.js';
import type { Dictionary } from './dictionary.js';
import { FILENUM_DIRECTORY, FILENUM_ENVIRONMENT, FILENUM_NONE, inameWithNul } from './names.js';
import type { Txn } from './txn.js';

/** @hidden What the catalog needs from its environment (implemented by Env). */
export interface CatalogHost {
  readonly storage: Storage;
  readonly dir: string;
  readonly clock: Clock;
  readonly readOnly: boolean;
  readonly ct: Cachetable;
  readonly locks: CheckpointLocks;
  readonly dicts: Map<number, Dictionary>;
  readonly txns: Map<bigint, Txn>;
  /** The next filenum to give a dictionary file. */
  nextFilenum: number;
  path(iname: string): string;
  dictByFilenum(filenum: number): Dictionary;
  /** Run body in txn, or in a transaction of its own committed at the end. */
  withTxn<T>(txn: Txn | undefined, body: (t: Txn) => Promise<T>): Promise<T>;
  lockRow(txn: Txn, dict: Dictionary, key: Uint8Array): void;
  log(rec: LogRecordInput): bigint;
  /** Make the log durable up to lsn (the failed state on error). */
  syncLog(lsn: bigint): Promise<void>;
  updateRollbackNode(txn: Txn, mutate: () => void): Promise<void>;
  createDictionaryFile(txn: Txn | null, name: string, iname: string, filenum: number): Promise<Dictionary>;
  openDictionaryFile(name: string, iname: string, filenum: number, logIt: boolean): Promise<Dictionary>;
  closeDictionaryFile(d: Dictionary, unlink: boolean): Promise<void>;
  setIname(d: Dictionary, iname: string): void;
  checkNotFailed(): void;
  checkWritableEnv(): void;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Dictionaries by name, for one environment. */
export class Catalog {
  /** The catalog of host's environment. */
  constructor(private readonly host: CatalogHost) {}

  /** The open dictionary whose file is iname, if any. */
  dictByIname(iname: string): Dictionary | undefined {
    for (const d of this.host.dicts.values()) if (d.iname === iname) return d;
    return undefined;
  }

  private checkName(name: string): void {
    if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name) || name.startsWith('tokudb.')) {
      throw new TokusimError('bad-argument', 'a dictionary name is 1-100 of [A-Za-z0-9_.-] and does not start with "tokudb."', { actual: JSON.stringify(name) });
    }
  }

  /** Create a dictionary named `name` (in txn, or in its own transaction). */
  async createDictionary(name: string, txn?: Txn): Promise<Dictionary> {
    this.checkName(name);
    this.host.checkWritableEnv();
    return this.host.withTxn(txn, async (t) => {
      const dirDict = this.host.dictByFilenum(FILENUM_DIRECTORY);
      const key = enc.encode(name);
      this.host.lockRow(t, dirDict, key);
      if ((await t.get(dirDict, key)) !== undefined) {
        throw new TokusimError('bad-argument', `dictionary ${name} already exists`, { actual: name });
      }
      let n = t.root.id;
      let iname = `${name}_${n}.tokudb`;
      while (this.dictByIname(iname) !== undefined || (await this.host.storage.exists(this.host.path(iname)))) iname = `${name}_${n++}.tokudb`;
      const release = await this.host.locks.checkpointSafeClientLock();
      let d: Dictionary;
      try {
        d = await this.host.createDictionaryFile(t, name, iname, this.host.nextFilenum++);
      } finally {
        release();
      }
      await t.put(dirDict, key, enc.encode(iname));
      d.handles++;
      return d;
    });
  }

  /** Open the dictionary named `name` (as txn sees the directory). */
  async openDictionary(name: string, txn?: Txn): Promise<Dictionary> {
    this.host.checkNotFailed();
    const dirDict = this.host.dictByFilenum(FILENUM_DIRECTORY);
    const v = txn !== undefined ? await txn.get(dirDict, enc.encode(name)) : await dirDict.getCommitted(enc.encode(name));
    if (v === undefined) throw new TokusimError('bad-argument', `no dictionary named ${name}`, { actual: name });
    const iname = dec.decode(v);
    const open = this.dictByIname(iname);
    if (open?.closing !== undefined) {
      await open.closing;
      return this.openDictionary(name, txn);
    }
    if (open !== undefined) {
      open.name = name;
      open.handles++;
      open.closeWhenIdle = false;
      return open;
    }
    const release = await this.host.locks.checkpointSafeClientLock();
    try {
      const again = this.dictByIname(iname);
      const d = again ?? (await this.host.openDictionaryFile(name, iname, this.host.nextFilenum++, !this.host.readOnly));
      d.handles++;
      return d;
    } finally {
      release();
    }
  }

  /**
   * Dictionaries the committed directory names whose file is missing (a damaged
   * environment: their rows are lost). Reads only.
   */
  async missingDictionaryFiles(): Promise<Array<{ name: string; iname: string }>> {
    const out: Array<{ name: string; iname: string }> = [];
    for (const r of await this.host.dictByFilenum(FILENUM_DIRECTORY).committedRange({})) {
      const iname = dec.decode(r.value);
      if (this.dictByIname(iname) === undefined && !(await this.host.storage.exists(this.host.path(iname)))) out.push({ name: dec.decode(r.key), iname });
    }
    return out;
  }

  /** Names of all dictionaries (committed directory). */
  async listDictionaries(): Promise<string[]> {
    const rows = await this.host.dictByFilenum(FILENUM_DIRECTORY).committedRange({});
    return rows.map((r) => dec.decode(r.key));
  }

  /**
   * Release a dictionary handle. When the last handle closes the file is closed like
   * PerconaFT's ft_close (see ftClose); if live transactions still hold writes to it, that
   * happens when the last of them ends.
   */
  async closeDictionary(d: Dictionary): Promise<void> {
    this.host.checkNotFailed();
    d.checkOpen();
    if (d.filenum === FILENUM_ENVIRONMENT || d.filenum === FILENUM_DIRECTORY) return;
    if (d.handles > 0) d.handles--;
    if (d.handles > 0 || this.host.readOnly) return;
    if (this.txnsUsing(d.filenum)) {
      d.closeWhenIdle = true;
      return;
    }
    await this.ftClose(d);
  }

  private txnsUsing(filenum: number): boolean {
    for (const t of this.host.txns.values()) {
      if (t.ws.rows.has(filenum) || t.ws.fileOps.some((f) => f.filenum === filenum)) return true;
    }
    return false;
  }

  /**
   * ft_close (tokulog-format.md §7 row 12, recovery.md §1): under the checkpoint-safe client
   * lock (no checkpoint runs), write the dictionary's dirty nodes, log fclose, and if its
   * header is dirty write it with checkpoint_lsn = the fclose LSN after fsyncing the log up
   * to that LSN (a private checkpoint of this one file); then close the file.
   */
  private async ftClose(d: Dictionary): Promise<void> {
    if (d.closing !== undefined) return d.closing;
    const run = async (): Promise<void> => {
      const release = await this.host.locks.checkpointSafeClientLock();
      try {
        if (d.closed) return;
        await this.host.ct.flushCachefile(d.file.cachefile);
        const lsn = this.host.log({ type: 'fclose', iname: enc.encode(d.iname), filenum: d.filenum });
        if (d.file.headerDirty) {
          d.file.beginCheckpoint(lsn);
          await d.file.checkpoint({ fsyncLogUpTo: (l) => this.host.syncLog(l), nowSeconds: this.host.clock.nowMicros() / 1_000_000n });
          await d.file.endCheckpoint();
        }
        await this.host.closeDictionaryFile(d, false);
      } finally {
        release();
      }
    };
    d.closing = run().finally(() => {
      d.closing = undefined;
    });
    return d.closing;
  }

  /** Close the dictionaries whose last handle closed while transactions still used them. */
  async closeIdleDictionaries(): Promise<void> {
    for (const d of [...this.host.dicts.values()]) {
      if (d.closeWhenIdle && d.handles === 0 && !d.closed && !this.txnsUsing(d.filenum)) {
        d.closeWhenIdle = false;
        await this.ftClose(d);
      }
    }
  }

  /** Remove a dictionary: directory row deleted, fdelete logged; the file goes at commit. */
  async removeDictionary(name: string, txn?: Txn): Promise<void> {
    this.host.checkWritableEnv();
    await this.host.withTxn(txn, async (t) => {
      const d = await this.openDictionary(name, t);
      const dirDict = this.host.dictByFilenum(FILENUM_DIRECTORY);
      await t.del(dirDict, enc.encode(name));
      const release = await this.host.locks.multiOperationClientLock();
      try {
        t.ensureBegun();
        this.host.log({ type: 'fdelete', xid: t.xid, filenum: d.filenum });
        await this.host.updateRollbackNode(t, () => t.ws.fileOps.push({ kind: 'fdelete', filenum: d.filenum, iname: d.iname }));
      } finally {
        release();
      }
    });
  }

  /**
   * Rename a dictionary: the directory row moves to newName and the file is renamed to a new
   * iname (toku_ft_rename_iname): frename is logged (inames with their trailing NUL,
   * old_filenum FILENUM_NONE when the file is not open) and fsynced before the rename, which
   * is made durable with fsyncDir; abort renames the file back.
   */
  async renameDictionary(oldName: string, newName: string, txn?: Txn): Promise<void> {
    this.checkName(newName);
    this.host.checkWritableEnv();
    await this.host.withTxn(txn, async (t) => {
      const dirDict = this.host.dictByFilenum(FILENUM_DIRECTORY);
      const oldKey = enc.encode(oldName);
      const newKey = enc.encode(newName);
      this.host.lockRow(t, dirDict, oldKey);
      this.host.lockRow(t, dirDict, newKey);
      const v = await t.get(dirDict, oldKey);
      if (v === undefined) throw new TokusimError('bad-argument', `no dictionary named ${oldName}`, { actual: oldName });
      if ((await t.get(dirDict, newKey)) !== undefined) throw new TokusimError('bad-argument', `dictionary ${newName} already exists`, { actual: newName });
      const oldIname = dec.decode(v);
      let n = t.root.id;
      let newIname = `${newName}_${n}.tokudb`;
      while (this.dictByIname(newIname) !== undefined || (await this.host.storage.exists(this.host.path(newIname)))) newIname = `${newName}_${++n}.tokudb`;
      await t.del(dirDict, oldKey);
      await t.put(dirDict, newKey, enc.encode(newIname));
      const open = this.dictByIname(oldIname);
      if (open?.closing !== undefined) await open.closing;
      const d = open !== undefined && !open.closed ? open : undefined;
      const release = await this.host.locks.checkpointSafeClientLock();
      try {
        t.ensureBegun();
        const lsn = this.host.log({ type: 'frename', xid: t.xid, old_iname: inameWithNul(oldIname), old_filenum: d?.filenum ?? FILENUM_NONE, new_iname: inameWithNul(newIname) });
        await this.host.syncLog(lsn);
        await this.host.storage.rename(this.host.path(oldIname), this.host.path(newIname));
        await this.host.storage.fsyncDir(this.host.dir);
        if (d !== undefined) this.host.setIname(d, newIname);
        await this.host.updateRollbackNode(t, () => t.ws.fileOps.push({ kind: 'frename', filenum: d?.filenum ?? FILENUM_NONE, iname: oldIname, newIname }));
      } finally {
        release();
      }
      if (d !== undefined) d.name = newName;
    });
  }
}
