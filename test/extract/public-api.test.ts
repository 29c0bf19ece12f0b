// Scenario: the ft/extract library as a user of the package sees it, through the root export
// (src/index.ts): register the codecs, open a real PerconaFT dictionary and stream its rows,
// and extract a whole environment without the command line.
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeStorage, openExtraction, openFtDictionary, registerNodeCodecs } from '../../src/index.js';

const F = join(import.meta.dirname, '..', '..', 'fixtures', 'perconaft', 'S1_basic');
const dir = mkdtempSync(join(tmpdir(), 'tokusim-public-api-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
for (const sub of ['dicts', 'logs']) for (const n of readdirSync(join(F, sub))) cpSync(join(F, sub, n), join(dir, n));
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

describe('public ft/extract API', () => {
  // Scenario: S1's alpha dictionary holds key%03d -> value-%03d-s1 for i = 0, 3, ..., 48.
  it('Scenario: openFtDictionary(...).committedRows() streams a dictionary\'s rows', async () => {
    registerNodeCodecs();
    const d = await openFtDictionary(new NodeStorage(), join(dir, 'alpha_db_2_1_1d.tokudb'));
    const rows: string[] = [];
    try {
      for await (const r of d.committedRows()) rows.push(`${text(r.key)}=${text(r.value)}`);
    } finally {
      await d.close();
    }
    const want: string[] = [];
    for (let i = 0; i < 50; i += 3) want.push(`key${String(i).padStart(3, '0')}=value-${String(i).padStart(3, '0')}-s1`);
    expect(rows).toEqual(want);
  });

  // Scenario: openExtraction lists the environment's dictionaries and streams each one's rows.
  it('Scenario: openExtraction gives every dictionary with its rows and counts', async () => {
    registerNodeCodecs();
    const ex = await openExtraction(new NodeStorage(), dir);
    try {
      expect(ex.kind).toBe('perconaft');
      const names = ex.dictionaries.map((d) => text(d.iname));
      expect(names).toEqual(['alpha_db_2_1_1d.tokudb', 'beta_db_2_3_1d.tokudb', 'gamma_db_2_4_1d.tokudb', 'tokudb.directory', 'tokudb.environment']);
      const beta = ex.dictionaries[1]!;
      let n = 0;
      for await (const r of beta.rows()) {
        expect(text(r.key)).toMatch(/^key\d{3}$/);
        n++;
      }
      expect(n).toBe(17);
      expect(beta.counts.fromFile + beta.counts.fromLog).toBe(17);
      expect(beta.leftOut).toEqual([]);
    } finally {
      await ex.close();
    }
  });
});
