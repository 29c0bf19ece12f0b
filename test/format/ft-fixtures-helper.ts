/** Finds every reference dictionary under fixtures/perconaft (nested S7 runs included). */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURE_ROOT = join(import.meta.dirname, '..', '..', 'fixtures', 'perconaft');

export interface ReferenceDict {
  /** e.g. S7_all_types/crash/reopened */
  run: string;
  name: string;
  path: string;
  /** The matching ftdump/ folder, or undefined when the run has none (tdb-recover). */
  ftdumpDir: string | undefined;
}

export function referenceDicts(): ReferenceDict[] {
  const out: ReferenceDict[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const e of readdirSync(dir).sort()) {
      const p = join(dir, e);
      if (!statSync(p).isDirectory()) continue;
      const r = rel ? `${rel}/${e}` : e;
      if (e === 'dicts') {
        const ft = join(dir, 'ftdump');
        const hasFt = (() => {
          try {
            return statSync(ft).isDirectory();
          } catch {
            return false;
          }
        })();
        for (const f of readdirSync(p).sort()) {
          if (statSync(join(p, f)).isFile()) out.push({ run: rel, name: f, path: join(p, f), ftdumpDir: hasFt ? ft : undefined });
        }
      } else {
        walk(p, r);
      }
    }
  };
  walk(FIXTURE_ROOT, '');
  return out;
}
