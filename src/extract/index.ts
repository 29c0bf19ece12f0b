/** Extract: committed rows of every dictionary of a PerconaFT or tokusim environment, read-only. */
export { openExtraction, type Extraction, type ExtractedDictionary, type ExtractLogSummary, type ExtractOptions, type ProvisionalLeftOut } from './extract.js';
export { mergeRows, mergeRowBatches, newMergeCounts, EMPTY_OVERLAY, type ExtractRow, type RowOverlay, type MergeCounts } from './merge.js';
export { readFileState, type CheckpointedTree, type TreeOpener, type RootCommitted, type ProvisionalResolver, type FileState } from './trees.js';
export { OutputBuffer, escapeToString, bytesJsonText, writeTsvRow } from './output.js';
