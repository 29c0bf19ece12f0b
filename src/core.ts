/**
 * tokusim's core entry (`tokusim/core`): everything that runs on a SimStorage, with no Node
 * module or global in its import graph, so it bundles for a browser as it is: the byte
 * formats and the log printer, the storage interface with SimStorage, the clocks and the
 * read-only and overlay wrappers, the redo log (writer, cursor, replay), the block table and
 * dictionary files, the cachetable, the checkpointer, the engine (Env on the portable host:
 * pass `options.storage`). The crash-test harness (src/sim/) is core code too (the import-graph
 * test holds it to the same rules) but is not part of this published surface.
 *
 * The Node entry (src/index.ts) re-exports all of this and adds NodeStorage, the Node host
 * (Env.open(dir) on real files, the env lock judging holders by process), the fast paths and
 * the abstract-level adapter.
 *
 * Invariants:
 *  - Importing this module (and any module it reaches) has no side effect: no registration, no
 *    global setter, no WebAssembly; test/package/import-graph.test.ts checks both this and the
 *    absence of node:* imports, and test/package/core-browser.test.ts runs a bundle of it
 *    without Node globals.
 */
export { x1764, x1764Parts, X1764, x1764UsesWasm } from './format/x1764.js';
export { ERROR_CODES, TokusimError, InvariantError, type ErrorKind, type ErrorCode, type ErrorWhere } from './base/errors.js';
export * from './format/record-types.js';
export * from './format/codec.js';
export * from './format/log-header.js';
export * from './format/printer.js';
export * from './format/json.js';
export * from './storage/storage.js';
export * from './storage/io-error.js';
export * from './storage/clock.js';
export * from './base/prng.js';
export * from './storage/sim-storage.js';
export { ReadOnlyStorage } from './storage/read-only-storage.js';
export { OverlayStorage } from './storage/overlay-storage.js';
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
export { LogReplayer, replayRecords, type ReplayOptions, type ReplayResult, type ReplayedDictionary, type ReplayRow, type ReplayNote, type PendingTxn } from './log/replay.js';
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
export {
  defaultEnvHost, setDefaultEnvHost, portableEnvHost, PORTABLE_PROCESS, type EnvHost, type HostProcesses, type ProcessIdentity, type ProcessState,
} from './engine/host.js';

export type { BackupTarget, LogArchiveHook } from './engine/backup-hooks.js';
export type { RecoveryEvent } from './engine/recovery.js';
