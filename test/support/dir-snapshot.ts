/**
 * Test support for "writes nothing" checks: a snapshot of a directory tree (every entry's
 * relative path, type, size, mtime and the sha-256 of every file), and copies of the
 * PerconaFT reference scenarios laid out as a real environment would be.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One line per entry under dir (recursively), sorted: path, type, size, mtime, sha-256. */
export function snapshotDir(dir: string): string[] {
  if (!existsSync(dir)) return ['<missing>'];
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) {
        out.push(`${r}/ dir mtime=${st.mtimeMs}`);
        walk(r);
      } else {
        const hash = createHash('sha256').update(readFileSync(join(dir, r))).digest('hex');
        out.push(`${r} ${st.size} mtime=${st.mtimeMs} ${hash}`);
      }
    }
  };
  walk('');
  return out;
}

export const PERCONAFT = join(import.meta.dirname, '..', '..', 'fixtures', 'perconaft');

/** Every PerconaFT scenario that has both dicts/ and logs/ (relative to PERCONAFT). */
export const PERCONAFT_SCENARIOS = ['S1_basic', 'S2_open_txns_at_checkpoint', 'S4_rollover', 'S6_many_checkpoints', 'S7_all_types/clean', 'S7_all_types/crash'];

export type Layout = 'env' | 'logs-only' | 'dicts-only';

/** A new temp directory holding a copy of scenario's dicts/* and/or logs/* side by side. */
export function perconaftCopy(scenario: string, layout: Layout, parent = mkdtempSync(join(tmpdir(), 'tokusim-foreign-'))): string {
  const dir = join(parent, `${scenario.replace('/', '_')}-${layout}`);
  mkdirSync(dir, { recursive: true });
  const parts = layout === 'env' ? ['dicts', 'logs'] : layout === 'logs-only' ? ['logs'] : ['dicts'];
  for (const part of parts) {
    const from = join(PERCONAFT, scenario, part);
    for (const name of readdirSync(from)) copyFileSync(join(from, name), join(dir, name));
  }
  return dir;
}
