/**
 * The engine's fixed names and numbers: the inames and sentinels shared with every reader of
 * the log (log/inames.ts), and the filenums this engine gives its own dictionaries.
 *
 * Invariants:
 *  - Filenums: rollback 0, environment 1, directory 2, user dictionaries from
 *    FIRST_USER_FILENUM; a filenum is never reused while the environment is open.
 */
export { DIRECTORY_INAME, ENVIRONMENT_INAME, FILENUM_NONE, NO_ROLLBACK_NODE, ROLLBACK_INAME, SYSTEM_INAMES, inameFromNul, inameWithNul } from '../log/inames.js';

/** tokudb.rollback's filenum. */
export const FILENUM_ROLLBACK = 0;
/** tokudb.environment's filenum. */
export const FILENUM_ENVIRONMENT = 1;
/** tokudb.directory's filenum. */
export const FILENUM_DIRECTORY = 2;
/** The first filenum of a user dictionary. */
export const FIRST_USER_FILENUM = 3;
/** Default EnvOptions.logPreallocate in 'sync' mode: 4 MiB. */
export const DEFAULT_LOG_PREALLOCATE = 4 << 20;
