/**
 * The progress file of a resumable push (`progress/push.json` in the repository): which
 * parts of which source files are durably stored, with their sha256, and the identity of the
 * source they were read from (docs/backup.md "Resuming").
 *
 * Invariants:
 *  - Written with putAtomic only after store.sync(): every part it lists is durable.
 *  - A part is reused only when the bytes read from the source now hash to the part's
 *    sha256 (and the progress belongs to the same environment): a source changed since the
 *    progress was written can never put old bytes into a backup (TiDB BR #70121's lesson).
 */
import { TokusimError } from '../base/errors.js';
import { encodeJson, MANIFEST_FORMAT } from './manifest.js';
import type { RepoStore } from './store.js';

export const PUSH_PROGRESS_KEY = 'progress/push.json';

/** What the copy was read from: the environment and the held checkpoint's files. */
export interface SourceIdentity {
  dir: string;
  /** sha256 of the environment's identity file (its id), or '' when it has none. */
  envId: string;
  checkpointLsn: string;
  checkpointCount: string;
  files: Array<{ name: string; size: number }>;
}

export interface DonePart {
  file: string;
  offset: number;
  length: number;
  sha256: string;
  key: string;
}

export interface PushProgress {
  format: typeof MANIFEST_FORMAT;
  /** The backup being written (its parts' keys are under its name). */
  name: string;
  source: SourceIdentity;
  parts: DonePart[];
}

const dec = new TextDecoder();

export async function loadPushProgress(store: RepoStore): Promise<PushProgress | undefined> {
  const bytes = await store.get(PUSH_PROGRESS_KEY);
  if (bytes === undefined) return undefined;
  try {
    const p = JSON.parse(dec.decode(bytes)) as PushProgress;
    if (p.format === MANIFEST_FORMAT && typeof p.name === 'string' && Array.isArray(p.parts) && typeof p.source === 'object') return p;
  } catch {
    // reported below
  }
  throw new TokusimError('bad-header', 'push progress file is damaged (delete it to start over)', { file: `${store.where}/${PUSH_PROGRESS_KEY}` });
}

export async function savePushProgress(store: RepoStore, p: PushProgress): Promise<void> {
  await store.sync();
  await store.putAtomic(PUSH_PROGRESS_KEY, encodeJson(p));
}

/** Whether two identities name the same held checkpoint of the same environment. */
export function sameSource(a: SourceIdentity, b: SourceIdentity): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Whether a progress file was written from the same environment (else nothing in it is reused). */
export function sameEnvironment(a: SourceIdentity, b: SourceIdentity): boolean {
  return a.dir === b.dir && a.envId === b.envId;
}
