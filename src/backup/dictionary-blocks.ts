/**
 * What a backup needs to know of a dictionary file: its chosen header (the newest valid one,
 * as an open would choose it) and the blocks its translation names, sorted by diskoff.
 */
import { chooseHeader } from '../format/ft-header.js';
import { readHeaderSlots, readTranslation } from '../blocks/dictionary-file.js';
import type { StorageFile } from '../storage/storage.js';
import type { StreamBlock } from './block-stream.js';

export interface DictionaryLayout {
  slot: 0 | 1;
  checkpointCount: bigint;
  checkpointLsn: bigint;
  blocks: StreamBlock[];
}

export async function readDictionaryLayout(f: StorageFile, name: string): Promise<DictionaryLayout> {
  const [s0, s1] = await readHeaderSlots(f, name);
  const chosen = chooseHeader(s0, s1, name);
  const t = await readTranslation(f, name, chosen.header, chosen.offset);
  const blocks: StreamBlock[] = [];
  for (let b = 0; b < Number(t.smallestNeverUsed); b++) {
    const size = t.sizes[b]!;
    const diskoff = t.diskoffs[b]!;
    if (size > 0n && diskoff >= 0n) blocks.push({ blocknum: b, diskoff: Number(diskoff), size: Number(size) });
  }
  blocks.sort((a, b) => a.diskoff - b.diskoff);
  return { slot: chosen.slot, checkpointCount: chosen.header.checkpointCount, checkpointLsn: chosen.header.checkpointLsn, blocks };
}

/** A user dictionary (its blocks from 3 on are tokusim B+tree nodes holding committed rows). */
export function isUserDictionary(name: string): boolean {
  return name.endsWith('.tokudb');
}

/** Names of an environment directory a backup copies, and as what. */
export function roleOf(name: string, identityFile: string, isLog: boolean): 'dictionary' | 'log' | 'identity' | undefined {
  if (isLog) return 'log';
  if (name === identityFile) return 'identity';
  if (name === 'tokudb.rollback' || name === 'tokudb.environment' || name === 'tokudb.directory' || name.endsWith('.tokudb')) return 'dictionary';
  return undefined;
}
