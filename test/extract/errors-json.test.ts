// Scenarios: what extract does with damaged input (one clear line naming file, blocknum,
// offset, expected and actual; the documented exit codes) and the --json document.
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../tools/cli-support.js';
import { runExtract } from './helpers.js';

const F = join(import.meta.dirname, '..', '..', 'fixtures', 'perconaft');
const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
function envFrom(...folders: string[]): string {
  const d = mkdtempSync(join(tmpdir(), 'tokusim-extract-err-'));
  made.push(d);
  for (const f of folders) for (const n of readdirSync(join(F, f))) cpSync(join(F, f, n), join(d, n), { recursive: true });
  return d;
}

describe('extract: damaged input', () => {
  // Scenario: one byte of alpha's only node is flipped. The other dictionaries are printed,
  // alpha is not, stderr names the file, the blocknum, the offset and the checksums, and the
  // exit code is 3 (corrupt).
  it('Scenario: a flipped byte in a node gives exit 3 and one line naming file, blocknum and offset', async () => {
    const dir = envFrom('S1_basic/dicts', 'S1_basic/logs');
    const path = join(dir, 'alpha_db_2_1_1d.tokudb');
    const bytes = readFileSync(path);
    bytes[8192 + 200] ^= 0x40; // inside the node at 8192 (BTT: blocknum 3, 512 bytes)
    writeFileSync(path, bytes);
    const r = await runExtract(dir);
    expect(r.code).toBe(EXIT.CORRUPT);
    expect(r.stdout).not.toMatch(/^alpha/m);
    expect(r.stdout).toMatch(/^beta_db_2_3_1d\.tokudb\tkey001\tvalue-001-s1$/m);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('tokusim:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tokusim: alpha_db_2_1_1d\.tokudb: rows stop at the damage: .*alpha_db_2_1_1d\.tokudb, blocknum 3, offset \d+: .*\(expected .+, actual .+\)$/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  // Scenario: the log ends inside a record (a torn tail). Extract prints every row (the log
  // up to the damage is used), names the damage, and exits 4 (truncated).
  it('Scenario: a torn log tail gives every row and exit 4', async () => {
    const dir = envFrom('S1_basic/dicts', 'S1_basic/logs');
    const log = join(dir, 'log000000000000.tokulog29');
    truncateSync(log, readFileSync(log).length - 5);
    const r = await runExtract(dir);
    expect(r.code).toBe(EXIT.TRUNCATED);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('alpha_db_2_1_1d.tokudb\t'))).toHaveLength(17);
    expect(r.stderr).toMatch(/^tokusim: the log is damaged, rows reflect it up to lsn 195: .*log000000000000\.tokulog29/m);
  });

  // Scenario: a directory that is no environment is refused before anything is read.
  it('Scenario: a directory that is not an environment is refused (exit 9)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-extract-none-'));
    made.push(dir);
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    await expect(runExtract(dir)).rejects.toMatchObject({ kind: 'not-an-environment', message: expect.stringMatching(/refusing to extract rows from it: not a tokusim environment/) });
  });
});

describe('extract --json', () => {
  // Scenario: the S7 crash environment as one JSON document: the unresolved transactions with
  // their XA ids, and per dictionary its rows as {len,text,hex} byte strings and its counts.
  it('Scenario: S7 crash as one JSON document', async () => {
    const r = await runExtract(envFrom('S7_all_types/crash/dicts', 'S7_all_types/crash/logs'), { json: true });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      format: string;
      version: number;
      environment: { kind: string };
      log: { records: number; first_lsn: string; last_lsn: string; partial: boolean; damage: null };
      pending: Array<{ xid: { parent: string }; state: string; pending_writes: number; xa?: { formatID: number } }>;
      dictionaries: Array<{ iname: { text: string }; dname: { text: string } | null; checkpoint_lsn: string | null; complete: boolean; rows: Array<{ key: { text: string; hex: string }; value: { text: string } }>; counts: { from_file: number; from_log: number } }>;
    };
    expect(doc).toMatchObject({ format: 'tokusim-extract', version: 1, environment: { kind: 'perconaft' }, log: { records: 127, first_lsn: '1', last_lsn: '127', partial: false, damage: null } });
    expect(doc.pending.map((p) => [p.xid.parent, p.state])).toEqual([['4', 'prepared'], ['5', 'live'], ['7', 'prepared'], ['10', 'live'], ['11', 'live']]);
    expect(doc.pending[0]!.xa?.formatID).toBe(1);
    const ledger = doc.dictionaries.find((d) => d.iname.text === 's7_ledger_2_1_1d.tokudb')!;
    expect(ledger).toMatchObject({ dname: { text: 's7_ledger' }, checkpoint_lsn: '87', complete: true, counts: { from_file: 4, from_log: 1 } });
    expect(ledger.rows.map((x) => x.key.text)).toEqual(['acct\\011\\342\\202\\254', 'acct\\nC', 'acct\\"A\\"', 'acct-z', 'acct\\\\B']);
    expect(ledger.rows[3]).toMatchObject({ key: { hex: Buffer.from('acct-z').toString('hex') }, value: { text: 'balance=0' } });
  });

  // Scenario: the document is UTF-8 even where it quotes names that are not ASCII (the
  // environment's path, its log files): JSON.parse of the bytes read as UTF-8 gives the path back.
  it('Scenario: an environment path with non-ASCII characters comes back intact in the JSON', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'tokusim-extract-utf8-'));
    made.push(parent);
    const dir = join(parent, 'env-é-€');
    cpSync(envFrom('S1_basic/dicts', 'S1_basic/logs'), dir, { recursive: true });
    const r = await runExtract(dir, { json: true });
    expect(r.code).toBe(0);
    const doc = JSON.parse(Buffer.from(r.stdout, 'latin1').toString('utf8')) as { environment: { dir: string }; log: { files: string[] } };
    expect(doc.environment.dir).toBe(dir);
    expect(doc.log.files.length).toBeGreaterThan(0);
    for (const f of doc.log.files) expect(f.startsWith(dir)).toBe(true);
  });
});
