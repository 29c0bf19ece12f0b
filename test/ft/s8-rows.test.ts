import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import '../../src/ft/node-codecs.js';
import { openFtDictionary } from '../../src/ft/dictionary.js';
import { escapeBytes } from '../../src/format/json.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { ReadOnlyStorage } from '../../src/storage/read-only-storage.js';

const S8 = join(import.meta.dirname, '..', '..', 'fixtures', 'perconaft', 'S8_node_formats');
const DICTS = ['none_db_2_1_1d', 'zlib_db_2_3_1d', 'zlibck_db_2_4_1d', 'quicklz_db_2_5_1d', 'lzma_db_2_6_1d', 'snappy_db_2_7_1d'];

/** rows/SHA256SUMS: the hash of each reference rows file PerconaFT wrote (all six are byte-identical). */
function referenceHashes(): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of readFileSync(join(S8, 'rows', 'SHA256SUMS'), 'utf8').trim().split('\n')) {
    const [hash, name] = line.split(/\s+/);
    m.set(name!, hash!);
  }
  return m;
}

describe('S8: committed rows of real PerconaFT dictionaries', () => {
  const reference = readFileSync(join(S8, 'rows', 'none_db_2_1_1d.tokudb.rows.tsv'), 'utf8');
  const hashes = referenceHashes();
  for (const name of DICTS) {
    // Scenario: a height-2 tree with buffered messages (inserts, deletes, commits, aborts) and
    // provisional leaf entries reads back as exactly the rows PerconaFT's own cursor returned.
    it(`Scenario: ${name} (every compression method) yields PerconaFT's 6200 rows byte for byte`, async () => {
      const storage = new ReadOnlyStorage(new NodeStorage());
      const dict = await openFtDictionary(storage, join(S8, 'dicts', `${name}.tokudb`));
      let out = '';
      let n = 0;
      try {
        for await (const row of dict.committedRows()) {
          out += `${escapeBytes(row.key)}\t${escapeBytes(row.value)}\n`;
          n++;
        }
      } finally {
        await dict.close();
      }
      expect(n).toBe(6200);
      expect(out).toBe(reference);
      expect(createHash('sha256').update(out).digest('hex')).toBe(hashes.get(`${name}.tokudb.rows.tsv`));
    });
  }
});

describe('S8: resolving provisional records with a commit predicate', () => {
  // Scenario: a caller that knows the after-checkpoint transactions 73..77 (xids 0x49..0x4d)
  // never committed (as after a crash) gets the rows without their 500 new keys: their
  // provisional leaf records and their buffered inserts are both skipped.
  it('Scenario: treating xids 0x49..0x4d as uncommitted removes exactly the 500 version-a rows', async () => {
    const storage = new ReadOnlyStorage(new NodeStorage());
    const dict = await openFtDictionary(storage, join(S8, 'dicts', 'zlib_db_2_3_1d.tokudb'));
    const lines: string[] = [];
    try {
      for await (const row of dict.committedRows({ committed: (xid) => xid < 0x49n || xid > 0x4dn })) {
        lines.push(`${escapeBytes(row.key)}\t${escapeBytes(row.value)}`);
      }
    } finally {
      await dict.close();
    }
    const reference = readFileSync(join(S8, 'rows', 'none_db_2_1_1d.tokudb.rows.tsv'), 'utf8').trimEnd().split('\n');
    const withoutA = reference.filter((l) => !l.split('\t')[1]!.startsWith('a'));
    expect(withoutA.length).toBe(5700);
    expect(lines).toEqual(withoutA);
  });
});
