/** The embeddable engine's public surface (docs/engine.md). */
export { Env, Dictionary, type CloseOptions, type EnvOptions, type EnvEvent, type EnvStatus, type Durability, type PreparedTxnInfo } from './env.js';
export { Txn, TxnCursor, type TxnState, type RangeOptions, type Entry } from './txn.js';
export { EnvLock, EnvLockedError, ENV_LOCK_FILE, type EnvLockInfo } from './env-lock.js';
export { type RecoveryReport } from './recovery.js';
export { WriteSet } from './write-set.js';
export { LockConflictError } from './locktree.js';
