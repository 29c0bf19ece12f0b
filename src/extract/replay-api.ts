/** The forensic replay and the system file names, as extract uses them (one import site). */
export { LogReplayer, type PendingTxn, type ReplayNote, type ReplayResult, type ReplayedDictionary } from '../log/replay.js';
export { ROLLBACK_INAME, SYSTEM_INAMES } from '../log/inames.js';
