/** The embeddable engine's public surface (docs/engine.md). */
export { Env, Dictionary, type EnvOptions, type EnvEvent, type EnvStatus, type Durability, type PreparedTxnInfo } from './env.js';
export { Txn, TxnCursor, type TxnState, type RangeOptions, type Entry } from './txn.js';
export { EnvLock, EnvLockedError, EnvLockUnreadableError, ENV_LOCK_FILE, isEnvLockFile, type EnvLockInfo, type EnvLockVerdict } from './env-lock.js';
export { type RecoveryReport } from './recovery.js';
export { WriteSet } from './write-set.js';
export { LockConflictError } from './locktree.js';
