/**
 * Where extract gets a dictionary's checkpointed rows from: the tree its file holds, read
 * without writing and one path of nodes at a time.
 *
 *  - A PerconaFT dictionary: the layout-29 node decoder of `src/ft/` (buffered messages
 *    applied in MSN order, leafentries resolved to their committed value); provisional
 *    entries are resolved with the caller's answer to "did this transaction commit?", asked
 *    for each level of the stack (an aborted child's records are left out even when its root
 *    committed).
 *  - A tokusim dictionary: the engine's own tree, through an environment opened read-only.
 *    It holds committed rows only (tokusim applies a transaction's writes at commit), so the
 *    question is never asked.
 *
 * Invariants:
 *  - Rows come out in the tree's key order, each key once.
 *  - Nothing here writes: every file is opened through the caller's (read-only) Storage.
 */
import { chooseHeader, HEADER_SLOT_RESERVE } from '../format/ft-header.js';
import { readHeaderSlots } from '../blocks/dictionary-file.js';
import type { Storage, StorageFile } from '../storage/storage.js';
import type { Dictionary } from '../engine/env.js';
import { openFtDictionary, type LeafMemory, type RowOptions } from '../ft/dictionary.js';
import type { LevelCommitted } from '../ft/leafentry.js';
import type { ExtractRow } from './merge.js';

/** Answers whether the root transaction with this xid committed. */
export type RootCommitted = (rootXid: bigint) => boolean;

/** How a tree's provisional leafentries are resolved. */
export interface ProvisionalResolver {
  /** Whether each level of a provisional stack survived, outermost first (src/ft/leafentry.ts `LevelCommitted`). */
  committedLevel: LevelCommitted;
  /** Called once per entry whose provisional records were (partly) left out, with the xids from the root down to the outermost level left out. */
  leftOut?: (xids: readonly bigint[]) => void;
}

/** A dictionary's checkpointed tree, open for one streaming read. */
export interface CheckpointedTree {
  /** The checkpoint_lsn of the header the tree was read from. */
  readonly checkpointLsn: bigint;
  /** The committed rows in key order; `resolver` resolves provisional entries. */
  rows(resolver: ProvisionalResolver): AsyncIterable<ExtractRow>;
  /**
   * The same rows in batches (none empty). With `leafMemory`, a batch's rows may point into
   * that memory, reused for the next batch: they are valid until the next batch is asked for.
   * Optional: without it, `rows` is read one row per batch.
   */
  rowBatches?(resolver: ProvisionalResolver, leafMemory: LeafMemory | undefined): AsyncIterable<readonly ExtractRow[]>;
  /** Closes the file or dictionary it reads. */
  close(): Promise<void>;
}

/** Opens the checkpointed tree of the dictionary file at path. */
export type TreeOpener = (storage: Storage, path: string) => Promise<CheckpointedTree>;

/** What a dictionary file's header says, or why there is no header to read. */
export type FileState =
  | { kind: 'checkpointed'; checkpointLsn: bigint; size: number }
  | { kind: 'missing' }
  /**
   * A file created but never checkpointed: 0 bytes (PerconaFT), or both header slots still
   * zeros (tokusim). Its rows, if any, are all in the log.
   */
  | { kind: 'empty' };

/**
 * The state of the dictionary file at path: missing, empty, or the checkpoint LSN of its
 * newest valid header. A file with bytes but no valid header is corrupt input (thrown).
 */
export async function readFileState(storage: Storage, path: string): Promise<FileState> {
  if (!(await storage.exists(path))) return { kind: 'missing' };
  const f = await storage.open(path, 'read');
  try {
    const size = await f.size();
    if (size === 0) return { kind: 'empty' };
    const [s0, s1] = await readHeaderSlots(f, path);
    if (await slotMagicIsZero(f, 0) && await slotMagicIsZero(f, HEADER_SLOT_RESERVE)) return { kind: 'empty' };
    const chosen = chooseHeader(s0, s1, path);
    return { kind: 'checkpointed', checkpointLsn: chosen.header.checkpointLsn, size };
  } finally {
    await f.close();
  }
}

/** True when the 8 magic bytes of the header slot at offset are zeros or beyond the end. */
async function slotMagicIsZero(f: StorageFile, offset: number): Promise<boolean> {
  const magic = new Uint8Array(8);
  const n = await f.pread(magic, offset);
  return magic.subarray(0, n).every((b) => b === 0);
}

/** Rows read from a tokusim dictionary per engine call. */
const TOKUSIM_CHUNK = 1024;

/** A tokusim dictionary's committed rows, TOKUSIM_CHUNK at a time. */
async function* tokusimChunks(d: Dictionary): AsyncGenerator<ExtractRow[]> {
  let after: Uint8Array | undefined;
  for (;;) {
    const chunk = await d.committedChunk(after === undefined ? {} : { gt: after }, TOKUSIM_CHUNK);
    if (chunk.length > 0) yield chunk.map((e) => ({ key: e.key, value: e.value }));
    if (chunk.length < TOKUSIM_CHUNK) return;
    after = chunk[chunk.length - 1]!.key;
  }
}

/** The checkpointed tree of a tokusim dictionary opened in a read-only environment. */
export function tokusimTree(d: Dictionary): CheckpointedTree {
  return {
    checkpointLsn: d.openedCheckpointLsn,
    async *rows(): AsyncIterable<ExtractRow> {
      for await (const chunk of tokusimChunks(d)) yield* chunk;
    },
    rowBatches: () => tokusimChunks(d),
    close: async () => undefined,
  };
}

function rowOptions(resolver: ProvisionalResolver, leafMemory: LeafMemory | undefined): RowOptions {
  const leftOut = resolver.leftOut;
  return { committedLevel: resolver.committedLevel, ...(leafMemory !== undefined ? { leafMemory } : {}), ...(leftOut !== undefined ? { onLeftOut: (xids) => leftOut(xids) } : {}) };
}

/**
 * The checkpointed tree of a PerconaFT dictionary, read by the layout-29 decoder. The codecs
 * that need Node (zlib, lzma, snappy) are registered by the caller's entry point
 * (`src/ft/node-codecs.js`), as the decoder expects.
 */
export const openPerconaTree: TreeOpener = async (storage, path) => {
  const dict = await openFtDictionary(storage, path);
  return {
    checkpointLsn: dict.header.checkpointLsn,
    rows: (resolver) => dict.committedRows(rowOptions(resolver, undefined)),
    rowBatches: (resolver, leafMemory) => dict.committedRowBatches(rowOptions(resolver, leafMemory)),
    close: () => dict.close(),
  };
};
