/**
 * The forensic replay, as extract uses it. One import site, so that moving the replay module
 * (issue #14 moves it to src/log/) changes one line here.
 */
export { LogReplayer, ROLLBACK_INAME, SYSTEM_INAMES, type PendingTxn, type ReplayNote, type ReplayResult, type ReplayedDictionary } from '../engine/replay.js';
