/** Shared helpers of the extract tests: running the command in memory, and a snapshot of a directory that proves nothing was written. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { ReadOnlyStorage } from '../../src/storage/read-only-storage.js';
import { extractCommand, type ExtractCommandOptions } from '../../tools/commands/extract.js';

export interface ExtractRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tokusim extract` in this process on a real directory, read-only. */
export async function runExtract(envdir: string, opts: Partial<ExtractCommandOptions> = {}): Promise<ExtractRun> {
  const out: Buffer[] = [];
  let err = '';
  const code = await extractCommand(
    new ReadOnlyStorage(new NodeStorage()),
    { envdir, json: false, dicts: [], ...opts },
    { stdout: (c) => void out.push(Buffer.from(c)), stderr: (s) => void (err += s) },
  );
  return { code, stdout: Buffer.concat(out).toString('latin1'), stderr: err };
}

/** Every entry under dir (recursively) with its size, mtime and content hash, in name order. */
export function snapshotDir(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      const r = rel === '' ? name : `${rel}/${name}`;
      if (st.isDirectory()) {
        out.push(`${r}/ d mtime=${st.mtimeMs} mode=${st.mode}`);
        walk(p, r);
      } else {
        const hash = createHash('sha256').update(readFileSync(p)).digest('hex');
        out.push(`${r} size=${st.size} mtime=${st.mtimeMs} mode=${st.mode} sha256=${hash}`);
      }
    }
  };
  out.push(`. mtime=${statSync(dir).mtimeMs}`);
  walk(dir, '');
  return out;
}

/** TSV lines of one iname, without the iname column. */
export function rowsOf(tsv: string, iname: string): string[] {
  return tsv
    .split('\n')
    .filter((l) => l.startsWith(`${iname}\t`))
    .map((l) => l.slice(iname.length + 1));
}
