/**
 * Planted bugs: test-only switches that put a known crash-safety bug back into the code, so
 * the crash-test harness (src/sim/) can show that it catches each one. They live in the
 * lowest layer because every layer checks them (one `if (isBugPlanted(...))` branch at the
 * owning site).
 *
 * Invariants:
 *  - Every switch is off unless a test or `tokusim crashtest --plant-bug` turns it on.
 *  - Only names in PLANTED_BUGS can be planted; an unknown name is a bad-argument error.
 *  - With nothing planted, isBugPlanted is one check of an empty Set's size (zero cost when
 *    off, as far as anything measurable goes).
 */
import { TokusimError } from './errors.js';

/** Every bug that can be planted, with the layer that owns the check and what goes wrong. */
export const PLANTED_BUGS = {
  'skip-log-fsync-before-end-checkpoint':
    'checkpoint: headers are written without first making the log durable up to the begin LSN, and end_checkpoint is not fsynced',
  'header-before-btt-durable':
    'blocks: the header sector is written before the BTT, with one fsync after both, so a crash can leave a header pointing at a missing BTT',
  'free-blocks-at-begin':
    'blocks: blocks only the previous checkpoint uses are freed at begin_checkpoint instead of at end, so they can be overwritten before the new header exists',
  'checkpoint-no-clone':
    'cachetable: a client write-pinning a pending PAIR neither clones nor waits, so its change leaks into the checkpoint image',
  'replay-ignores-checkpoint-lsn':
    "engine: recovery applies log records whose LSN is not newer than the dictionary's checkpoint LSN",
  'recovery-keeps-open-txns':
    'engine: recovery forgets to abort the transactions left open at the crash',
  'header-slot-by-offset':
    'format: when both header slots are valid the reader takes slot 0 instead of the larger checkpoint count',
  'snapshot-reads-latest':
    'engine: a snapshot read ignores the version store and reads the newest committed value (a non-repeatable read under snapshot isolation)',
  'serializable-skips-read-locks':
    'engine: a serializable read takes no row read lock, so another transaction can change the key before the reader ends (a non-repeatable read, a lost update)',
  'abort-leaks-client-lock':
    'engine: an abort takes the multi-operation client lock once more and never releases it, so the next checkpoint waits for it for ever (a hang)',
} as const;

export type PlantedBugName = keyof typeof PLANTED_BUGS;

export const PLANTED_BUG_NAMES = Object.keys(PLANTED_BUGS) as PlantedBugName[];

const planted = new Set<PlantedBugName>();

/** True when the named bug is switched on. */
export function isBugPlanted(name: PlantedBugName): boolean {
  return planted.size !== 0 && planted.has(name);
}

export function isPlantedBugName(name: string): name is PlantedBugName {
  return Object.prototype.hasOwnProperty.call(PLANTED_BUGS, name);
}

/** Switch a bug on (test-only). Unknown names are refused. */
export function plantBug(name: string): void {
  if (!isPlantedBugName(name)) {
    throw new TokusimError('bad-argument', `unknown planted bug '${name}'`, {
      expected: PLANTED_BUG_NAMES.join(', '),
      actual: name,
    });
  }
  planted.add(name);
}

/** Switch every planted bug off. */
export function clearPlantedBugs(): void {
  planted.clear();
}

/** The names switched on now. */
export function plantedBugs(): PlantedBugName[] {
  return [...planted];
}
