/**
 * tokusim public API. Helpers that exist for tests and tools (for example switching the x1764
 * WebAssembly kernel off, or the x1764 source text for worker threads) are not exported here:
 * tools/ and tests import their modules directly. Modules whose helpers are marked `@internal`
 * are listed name by name so that only their API is re-exported.
 */
export { x1764, x1764Parts, x1764Ranges, X1764, x1764UsesWasm } from './format/x1764.js';
export * from './base/errors.js';
export * from './format/record-types.js';
export * from './format/codec.js';
export * from './format/log-header.js';
export * from './format/printer.js';
export * from './format/json.js';
export * from './storage/storage.js';
export * from './storage/io-error.js';
export * from './storage/clock.js';
export * from './storage/node-storage.js';
export * from './base/prng.js';
export * from './storage/sim-storage.js';
export {
  FT_LAYOUT_VERSION, FT_LAYOUT_MIN_SUPPORTED_VERSION, FT_HEADER_SIZE_V29, HEADER_SLOT_RESERVE, HEADER_WRITE_SIZE, HEADER_MAGIC, BYTE_ORDER_MARKER,
  HIGHEST_UNUSED_MSN_FOR_NEW_TREES, MAX_LSN, TOKUDB_DICTIONARY_TOO_OLD, TOKUDB_DICTIONARY_TOO_NEW, TOKUDB_DICTIONARY_NO_HEADER, TOKUDB_BAD_CHECKSUM,
  EINVAL, ftHeaderMinSize, type FtHeader, FT_DEFAULT_NODE_SIZE, FT_DEFAULT_BASEMENT_NODE_SIZE, FT_DEFAULT_FANOUT, TOKU_DEFAULT_COMPRESSION_METHOD,
  newFtHeader, headerSlotForCount, headerSlotOffset, encodeFtHeader, encodeFtHeaderSector, decodeFtHeaderFields, HeaderError, type HeaderSlotStatus,
  type HeaderSlotReport, validateHeaderSlot, type ChosenHeader, chooseHeader,
} from './format/ft-header.js';
export {
  RESERVED_BLOCKNUM_NULL, RESERVED_BLOCKNUM_TRANSLATION, RESERVED_BLOCKNUM_DESCRIPTOR, RESERVED_BLOCKNUMS, SIZE_IS_FREE, DISKOFF_UNUSED, FREELIST_NULL,
  type TranslationImage, translationSizeOnDisk, encodeTranslationImage, encodeTranslationPadded, decodeTranslationImage, FIRST_BLOCK_OFFSET, BLOCK_ALIGNMENT,
} from './format/btt-format.js';
export * from './format/descriptor.js';
export {
  BLOCK_ALLOCATOR_ALIGNMENT, BLOCK_ALLOCATOR_HEADER_RESERVE, BLOCK_ALLOCATOR_TOTAL_HEADER_RESERVE, FILE_CHANGE_INCREMENT, type BlockRange, BlockAllocator,
  planPreallocate, planTruncate,
} from './blocks/block-allocator.js';
export * from './blocks/translation.js';
export * from './blocks/block-table.js';
export * from './blocks/dictionary-file.js';
export { LogReplayer, replayRecords, type ReplayOptions, type ReplayResult, type ReplayedDictionary, type ReplayRow, type ReplayNote, type PendingTxn } from './engine/replay.js';
export * from './cachetable/index.js';
export * from './checkpoint/index.js';
export * from './engine/btree/index.js';
export * from './engine/locktree.js';
export * from './log/names.js';
export * from './log/events.js';
export * from './log/writer.js';
export * from './log/cursor.js';
export * from './log/synth.js';
export * from './engine/index.js';
export { TokusimLevel, type TokusimLevelOptions } from './adapters/abstract-level.js';
// Reading real PerconaFT dictionaries (layout 29): nodes, rows, rollback nodes.
export { registerNodeCodecs } from './ft/node-codecs.js';
export { openFtDictionary, FtDictionary, compareBytes, type AnyNode, type KeyCompare, type FtUpdateFunction, type RowOptions, type FtRow, type OpenFtOptions } from './ft/dictionary.js';
export { resolveEntry, committedValue, rootOnly, ALL_COMMITTED, XR_INSERT, XR_DELETE, XR_PLACEHOLDER, FT_MSG, type Ule, type Uxr, type ResolvedEntry, type LevelCommitted, type XidCommitted } from './ft/leafentry.js';
export type { FtNode, LazyFtNode, FtMessage, MessageBuffer, BasementNode, LeafEntry, SubBlockInfo } from './ft/node-format.js';
export type { RollbackNode, RollEntry, RollbackFieldValue, RollbackFieldType } from './ft/rollback.js';
// Extract: the committed rows of every dictionary of a PerconaFT or tokusim environment.
export { openExtraction, type Extraction, type ExtractedDictionary, type ExtractLogSummary, type ExtractOptions, type ProvisionalLeftOut } from './extract/extract.js';
export type { ExtractRow, RowOverlay, MergeCounts } from './extract/merge.js';
export type { CheckpointedTree, TreeOpener, ProvisionalResolver, RootCommitted, FileState } from './extract/trees.js';
