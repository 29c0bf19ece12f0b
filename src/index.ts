/**
 * tokusim public API. Helpers that exist for tests and tools (for example switching the x1764
 * WebAssembly kernel off, or the x1764 source text for worker threads) are not exported here:
 * tools/ and tests import their modules directly.
 */
export { x1764, x1764Parts, x1764Ranges, X1764, x1764UsesWasm } from './format/x1764.js';
export * from './format/errors.js';
export * from './format/record-types.js';
export * from './format/codec.js';
export * from './format/log-header.js';
export * from './format/printer.js';
export * from './format/json.js';
export * from './storage/storage.js';
export * from './storage/io-error.js';
export * from './storage/clock.js';
export * from './storage/node-storage.js';
export * from './storage/prng.js';
export * from './storage/sim-storage.js';
export * from './format/ft-header.js';
export * from './format/btt-format.js';
export * from './format/descriptor.js';
export * from './blocks/block-allocator.js';
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
