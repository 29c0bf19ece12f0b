/**
 * tokusim public API, the Node entry. Helpers that exist for tests and tools (for example
 * plugging the x1764 kernel in or out) and the setters this entry itself calls at import (the
 * default host, the default NodeStorage setup) are not exported here: tools/ and tests import
 * their modules directly. Modules whose helpers are marked `@internal` are listed name by name so
 * that only their API is re-exported.
 *
 * This entry is the core (src/core.ts, also published as `tokusim/core`) plus what needs Node:
 * NodeStorage; the Node host, installed here as the default, so Env.open(dir) opens real files
 * and the env lock judges holders by their process; the fast paths (src/fast/), which every
 * NodeStorage the library makes by default gets (src/node/fast-defaults.ts), and CowBytes
 * values; the abstract-level adapter.
 */
import { useFastPathsByDefault } from './node/fast-defaults.js';
import { useNodeHostByDefault } from './node/host.js';

useFastPathsByDefault();
useNodeHostByDefault();

export * from './core.js';
export { x1764Ranges } from './fast/x1764-wasm.js';
export { installFastPaths, DEFAULT_FRAME_WORKERS, DEFAULT_FRAME_WRITE_MODE, type FastPathOptions, type FastPaths } from './fast/install.js';
export * from './fast/cow-bytes.js';
export { NodeStorage, defaultNodeStorage, type NodeStorageOptions, type FrameWriter } from './storage/node-storage.js';
export { nodeEnvHost } from './node/host.js';
export { nodeProcesses } from './node/host-process.js';
export { TokusimLevel, type TokusimLevelOptions } from './adapters/abstract-level.js';
// Reading real PerconaFT dictionaries (layout 29): nodes, rows, rollback nodes.
export { registerNodeCodecs } from './ft/node-codecs.js';
export { openFtDictionary, FtDictionary, LeafMemory, compareBytes, type AnyNode, type KeyCompare, type FtUpdateFunction, type RowOptions, type FtRow, type OpenFtOptions } from './ft/dictionary.js';
export { resolveEntry, committedValue, rootOnly, ALL_COMMITTED, XR_INSERT, XR_DELETE, XR_PLACEHOLDER, FT_MSG, type Ule, type Uxr, type ResolvedEntry, type LevelCommitted, type XidCommitted } from './ft/leafentry.js';
export type { FtNode, LazyFtNode, FtMessage, MessageBuffer, BasementNode, LeafEntry, SubBlockInfo } from './ft/node-format.js';
export type { RollbackNode, RollEntry, RollbackFieldValue, RollbackFieldType } from './ft/rollback.js';
// Extract: the committed rows of every dictionary of a PerconaFT or tokusim environment.
export { openExtraction, type Extraction, type ExtractedDictionary, type ExtractLogSummary, type ExtractOptions, type ProvisionalLeftOut } from './extract/extract.js';
export type { ExtractRow, RowOverlay, MergeCounts } from './extract/merge.js';
export type { CheckpointedTree, TreeOpener, ProvisionalResolver, RootCommitted, FileState } from './extract/trees.js';
