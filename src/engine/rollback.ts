/**
 * tokudb.rollback (spec tokulog-format.md §8, recovery.md §1): one rollback node PAIR per
 * transaction that wrote, mirroring its write set, so that a checkpoint captures every live
 * transaction sharply and recovery can rebuild it from the node an xstillopen names.
 *
 * Invariants:
 *  - A transaction owns at most one rollback node; its value is the live write set (encoded
 *    when the PAIR is written or cloned).
 *  - Every checkpoint writes tokudb.rollback's header (forceRollbackHeaderWrite), so every
 *    checkpoint fsyncs the log up to its begin_checkpoint before end_checkpoint is appended;
 *    Env's torn-tail fast path relies on it.
 *  - An opened rollback file owns no node: every block is freed, since no transaction owns
 *    one yet (recovery re-creates the nodes of the transactions it keeps).
 */
import { newFtHeader } from '../format/ft-header.js';
import type { Cachetable } from '../cachetable/cachetable.js';
import { CheckpointableDictionary, type NodeCodec } from '../checkpoint/checkpointable-dictionary.js';
import type { Clock } from '../storage/clock.js';
import type { Storage } from '../storage/storage.js';
import { FILENUM_ROLLBACK, ROLLBACK_INAME } from './names.js';
import type { WriteSet } from './write-set.js';

/** Rollback PAIR value: the live txn's write set, or a frozen image (clone or fetched). */
export type RollbackValue = { live: WriteSet } | { frozen: Uint8Array };

/** How rollback nodes are written, read back and cloned for a checkpoint. */
export const ROLLBACK_CODEC: NodeCodec<RollbackValue> = {
  serialize: (v) => ('live' in v ? v.live.encode() : v.frozen),
  deserialize: (bytes) => ({ frozen: bytes.slice() }),
  clone: (v) => ({ frozen: 'live' in v ? v.live.encode() : v.frozen }),
  sizeOf: () => 256,
};

/** Where tokudb.rollback lives and who must know about it once it is open. */
export interface RollbackFileContext {
  cachetable: Cachetable;
  storage: Storage;
  clock: Clock;
  /** tokudb.rollback's path. */
  path: string;
  /** Called with the opened file (the checkpointer attaches it). */
  attach(cd: CheckpointableDictionary<RollbackValue>): void;
}

/** A transaction as far as its rollback node goes: the node's blocknum and the write set it mirrors. */
export interface RollbackOwner {
  rollbackBlocknum: bigint | null;
  readonly ws: WriteSet;
}

/**
 * Make every checkpoint write tokudb.rollback's header, so that every checkpoint fsyncs the
 * log up to its begin_checkpoint before end_checkpoint is appended.
 */
function forceRollbackHeaderWrite(cd: CheckpointableDictionary<RollbackValue>): void {
  const begin = cd.beginCheckpoint.bind(cd);
  cd.beginCheckpoint = (lsn: bigint): void => {
    cd.markHeaderDirty();
    begin(lsn);
  };
}

/** Create an empty tokudb.rollback (replacing any file of that name). */
export async function createRollbackFile(ctx: RollbackFileContext): Promise<CheckpointableDictionary<RollbackValue>> {
  if (await ctx.storage.exists(ctx.path)) await ctx.storage.unlink(ctx.path);
  const cd = await CheckpointableDictionary.create<RollbackValue>({
    cachetable: ctx.cachetable, storage: ctx.storage, path: ctx.path, filenum: FILENUM_ROLLBACK, codec: ROLLBACK_CODEC, iname: ROLLBACK_INAME,
    header: newFtHeader({ now: ctx.clock.nowMicros() / 1_000_000n }),
  });
  forceRollbackHeaderWrite(cd);
  ctx.attach(cd);
  return cd;
}

/**
 * Open tokudb.rollback at its newest header (at most maxAcceptableLsn: recovery passes its
 * turning point, so a header of a checkpoint that never logged end_checkpoint is not loaded,
 * and the next checkpoint overwrites that slot, not the turning point's) and free every node:
 * no txn owns one yet. A missing file is created.
 */
export async function openRollbackFile(ctx: RollbackFileContext, maxAcceptableLsn?: bigint): Promise<CheckpointableDictionary<RollbackValue>> {
  if (!(await ctx.storage.exists(ctx.path))) return createRollbackFile(ctx);
  const cd = await CheckpointableDictionary.open<RollbackValue>({
    cachetable: ctx.cachetable, storage: ctx.storage, path: ctx.path, filenum: FILENUM_ROLLBACK, codec: ROLLBACK_CODEC, iname: ROLLBACK_INAME,
    ...(maxAcceptableLsn !== undefined ? { maxAcceptableLsn } : {}),
  });
  const cur = cd.file.blockTable.snapshot('current');
  if (cur !== null) {
    for (let b = 3n; b < cur.smallestNeverUsed; b++) if (cur.sizes[Number(b)]! >= 0n) cd.file.blockTable.freeBlocknum(b, false);
  }
  cd.markHeaderDirty();
  forceRollbackHeaderWrite(cd);
  ctx.attach(cd);
  return cd;
}

/** Apply mutate to the owner's write set and mirror it in its rollback node (made on first use). */
export async function updateRollbackNode(ct: Cachetable, rb: CheckpointableDictionary<RollbackValue>, owner: RollbackOwner, mutate: () => void): Promise<void> {
  if (owner.rollbackBlocknum === null) {
    mutate();
    const p = await ct.put(rb.cachefile, () => rb.allocateBlocknum(), { live: owner.ws }, 256);
    owner.rollbackBlocknum = p.blocknum;
    ct.unpin(p, { dirty: true });
  } else {
    const p = await ct.getAndPin(rb.cachefile, owner.rollbackBlocknum, { mode: 'write' });
    mutate();
    p.value = { live: owner.ws };
    ct.unpin(p, { dirty: true });
  }
}

/** Remove the owner's rollback node, if it has one (its transaction ended). */
export async function dropRollbackNode(ct: Cachetable, rb: CheckpointableDictionary<RollbackValue> | undefined, owner: RollbackOwner): Promise<void> {
  if (owner.rollbackBlocknum === null || rb === undefined) return;
  const p = await ct.getAndPin(rb.cachefile, owner.rollbackBlocknum, { mode: 'write' });
  await ct.unpinAndRemove(p);
  owner.rollbackBlocknum = null;
}
