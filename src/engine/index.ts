/** The embeddable engine's public surface (docs/engine.md). */
export { Env, Dictionary, type CloseOptions, type EnvCore, type EnvOptions, type EnvEvent, type EnvStatus, type Durability, type PreparedTxnInfo } from './env.js';
export { Txn, TxnCursor, SnapshotConflictError, ISOLATION_LEVELS, type TxnState, type Isolation } from './txn.js';
export { Snapshot, VersionStore, Mvcc, type Version, type MvccStatus } from './mvcc.js';
export { type RangeOptions, type Entry } from './range.js';
export { EnvLock, EnvLockedError, EnvLockUnreadableError, ENV_LOCK_FILE, isEnvLockFile, type EnvLockInfo, type EnvLockOptions, type EnvLockVerdict } from './env-lock.js';
export { type RecoveryReport } from './recovery.js';
export { environmentStatus, type StatusReport, type StatusCollector } from './status.js';
export { WriteSet, type RowOp, type RowWrite, type FileOp } from './write-set.js';
export { UpdateRegistry, type UpdateFunction } from './update-functions.js';
export { LockConflictError } from './locktree.js';
