/** Test-local fixtures for the cachetable: an in-memory "disk" of versioned values. */
import { Cachetable, type CachetableOptions } from '../../src/cachetable/cachetable.js';
import type { Cachefile, FlushArgs } from '../../src/cachetable/pair.js';

/** A value a client modifies in two steps, so a torn image shows up as a !== b. */
export interface Val {
  a: number;
  b: number;
}

export interface WriteRecord {
  cf: string;
  blocknum: bigint;
  version: number;
  forCheckpoint: boolean;
  isClone: boolean;
  /** The stamp() option's value when the write completed (e.g. the checkpoint number). */
  stamp?: number;
}

export interface Disk {
  blocks: Map<bigint, Val>;
  /** A model of the BTT's _inprogress: copied from blocks at begin, set by for-checkpoint writes. */
  inprogress: Map<bigint, Val>;
  writes: WriteRecord[];
  removed: Array<{ blocknum: bigint; forCheckpoint: boolean }>;
  completes: bigint[];
}

export interface EnvOptions extends CachetableOptions {
  cloneable?: boolean;
  blocks?: number;
  /** Awaited inside fetch and flush (e.g. a fast-check scheduler step). */
  yieldPoint?: (label: string) => Promise<void>;
  size?: number;
  stamp?: () => number;
}

export async function makeFile(ct: Cachetable, name: string, options: EnvOptions = {}): Promise<{ cf: Cachefile<Val>; disk: Disk }> {
  const disk: Disk = { blocks: new Map(), inprogress: new Map(), writes: [], removed: [], completes: [] };
  for (let b = 1; b <= (options.blocks ?? 4); b++) disk.blocks.set(BigInt(b), { a: 0, b: 0 });
  const pause = options.yieldPoint ?? (async () => {});
  const size = options.size ?? 10;
  const cf = await ct.openCachefile<Val>(name, {
    async fetch(blocknum) {
      await pause(`fetch ${name}:${blocknum}`);
      const v = disk.blocks.get(blocknum);
      if (v === undefined) throw new Error(`no block ${blocknum}`);
      return { value: { ...v }, size };
    },
    async flush(args: FlushArgs<Val>) {
      const snap = { ...args.value };
      await pause(`flush ${name}:${args.blocknum}`);
      // The image must not change while it is being written.
      if (args.value.a !== snap.a || args.value.b !== snap.b || snap.a !== snap.b) {
        throw new Error(`torn write of ${name}:${args.blocknum}: ${JSON.stringify(snap)} -> ${JSON.stringify(args.value)}`);
      }
      disk.blocks.set(args.blocknum, snap);
      if (args.forCheckpoint) disk.inprogress.set(args.blocknum, snap);
      const rec: WriteRecord = { cf: name, blocknum: args.blocknum, version: snap.a, forCheckpoint: args.forCheckpoint, isClone: args.isClone };
      if (options.stamp) rec.stamp = options.stamp();
      disk.writes.push(rec);
      return size;
    },
    ...(options.cloneable === false ? {} : { clone: (v: Val) => ({ clone: { ...v }, cloneSize: size }) }),
    checkpointComplete: (_v, blocknum) => void disk.completes.push(blocknum),
    removeKey: (blocknum, forCheckpoint) => void disk.removed.push({ blocknum, forCheckpoint }),
  });
  return { cf, disk };
}

/** The minimal test-local checkpoint driver: begin, drain, end, calling the cachetable hooks. */
export async function runCheckpoint(
  ct: Cachetable,
  afterBegin?: () => Promise<void>,
  disks: readonly Disk[] = [],
  beforeEnd?: () => void,
): Promise<number> {
  const cfs = await ct.pinCachefilesForCheckpoint();
  // Step 7 (ft_begin_checkpoint) in miniature: _inprogress := _current, inside the critical section.
  const marked = await ct.turnOnPendingBits(() => {
    for (const d of disks) d.inprogress = new Map(d.blocks);
  });
  if (afterBegin) await afterBegin();
  await ct.checkpointPendingPairs();
  beforeEnd?.();
  await ct.unpinCachefilesAfterCheckpoint(cfs);
  return marked;
}

/** Begin only (for scenarios that act between begin and the drain). */
export async function beginCheckpoint(ct: Cachetable): Promise<Cachefile<any>[]> {
  const cfs = await ct.pinCachefilesForCheckpoint();
  await ct.turnOnPendingBits();
  return cfs;
}

export async function endCheckpoint(ct: Cachetable, cfs: Cachefile<any>[]): Promise<void> {
  await ct.checkpointPendingPairs();
  await ct.unpinCachefilesAfterCheckpoint(cfs);
}

/** Write-pin, modify in two steps, unpin dirty. */
export async function modify(ct: Cachetable, cf: Cachefile<Val>, blocknum: bigint, version: number): Promise<void> {
  const p = await ct.getAndPin(cf, blocknum, { mode: 'write' });
  p.value.a = version;
  p.value.b = version;
  ct.unpin(p, { dirty: true });
}
