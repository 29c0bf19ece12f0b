/**
 * Read-only views of the checkpointer's side of the state, for the teaching mode and tests:
 * the global locks (checkpoint-safe, the two multi-operation locks, open/close) and, for one
 * checkpointable dictionary, its header bits and its block translation table (the current,
 * in-progress and checkpointed translations) with the allocator's blocks and free holes.
 *
 * Invariants:
 *  - Nothing here takes a lock or changes state; views are built synchronously (one instant).
 *  - Views are JSON-safe: 64-bit numbers are decimal strings.
 */
import { inspectRwLock, type RwLockView } from '../cachetable/inspect.js';
import type { TranslationImage } from '../format/btt-format.js';
import type { CheckpointableDictionary } from './checkpointable-dictionary.js';
import type { CheckpointLocks, GlobalLockName } from './locks.js';

/** One global lock with what the checkpoint's own flags say about it. */
export interface GlobalLockView extends RwLockView {
  lock: GlobalLockName;
}

/** One translation entry: blocknum to (diskoff, size); size -1 is a free blocknum. */
export interface TranslationEntryView {
  blocknum: number;
  diskoff: string;
  size: string;
}

/** One of the three translations, with the entries that name a block (free ones left out). */
export interface TranslationView {
  smallestNeverUsed: string;
  freelistHead: string;
  entries: TranslationEntryView[];
}

/** A dictionary as the checkpoint sees it. */
export interface DictionaryCheckpointView {
  name: string;
  iname: string;
  filenum: number;
  /** The current header's dirty bit (ft->h->dirty). */
  headerDirty: boolean;
  /** Set between begin and end of a checkpoint: the checkpoint header's LSN and dirty bit. */
  checkpointHeader: { checkpointLsn: string; checkpointCount: string; dirty: boolean } | null;
  pinnedByCheckpoint: boolean;
  /** The current header (ft->h): the count of the last header written and the LSN it carried. */
  header: { checkpointCount: string; checkpointLsn: string; rootBlocknum: string };
  translations: { current: TranslationView; inprogress: TranslationView | null; checkpointed: TranslationView };
  /** The allocator's allocated blocks and finite free holes, by offset. */
  allocator: { blocks: Array<{ offset: string; size: string }>; holes: Array<{ offset: string; size: string }>; bytesInUse: string };
}

const LOCK_NAMES: readonly GlobalLockName[] = ['checkpointSafe', 'lowPriorityMo', 'mo', 'openClose'];

/** Views of the four global locks, in the global lock order. */
export function inspectGlobalLocks(locks: CheckpointLocks): GlobalLockView[] {
  return LOCK_NAMES.map((lock) => ({ lock, ...inspectRwLock(locks[lock]) }));
}

function translationView(img: TranslationImage): TranslationView {
  const entries: TranslationEntryView[] = [];
  img.sizes.forEach((size, b) => {
    if (size >= 0n && b < Number(img.smallestNeverUsed)) entries.push({ blocknum: b, diskoff: img.diskoffs[b]!.toString(), size: size.toString() });
  });
  return { smallestNeverUsed: img.smallestNeverUsed.toString(), freelistHead: img.freelistHead.toString(), entries };
}

/** A view of one dictionary's header bits, translations and allocator. */
export function inspectDictionary(d: CheckpointableDictionary<unknown>): DictionaryCheckpointView {
  const bt = d.file.blockTable;
  const inprogress = bt.snapshot('inprogress');
  const ch = d.checkpointHeader;
  const h = d.header;
  return {
    name: d.name,
    iname: d.iname,
    filenum: d.filenum,
    headerDirty: d.headerDirty,
    checkpointHeader: ch === null ? null : { checkpointLsn: ch.checkpointLsn.toString(), checkpointCount: ch.checkpointCount.toString(), dirty: d.checkpointHeaderDirty },
    pinnedByCheckpoint: d.pinnedByCheckpoint,
    header: { checkpointCount: h.checkpointCount.toString(), checkpointLsn: h.checkpointLsn.toString(), rootBlocknum: h.rootBlocknum.toString() },
    translations: {
      current: translationView(bt.snapshot('current')!),
      inprogress: inprogress === null ? null : translationView(inprogress),
      checkpointed: translationView(bt.snapshot('checkpointed')!),
    },
    allocator: {
      blocks: bt.allocator.blockList().map((r) => ({ offset: r.offset.toString(), size: r.size.toString() })),
      holes: bt.allocator.holeList().map((r) => ({ offset: r.offset.toString(), size: r.size.toString() })),
      bytesInUse: bt.allocator.nBytesInUse.toString(),
    },
  };
}
