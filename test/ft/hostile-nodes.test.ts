import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { registerNodeCodecs } from '../../src/ft/node-codecs.js';

registerNodeCodecs();
import { openFtDictionary } from '../../src/ft/dictionary.js';
import { TokusimError } from '../../src/base/errors.js';
import { escapeBytes } from '../../src/format/json.js';
import { SimStorage } from '../../src/storage/sim-storage.js';

const S8 = join(import.meta.dirname, '..', '..', 'fixtures', 'perconaft', 'S8_node_formats');
const REFERENCE = readFileSync(join(S8, 'rows', 'none_db_2_1_1d.tokudb.rows.tsv'), 'utf8');

/** The rows of a (damaged) copy, or the error it gave. */
async function rowsOf(bytes: Uint8Array): Promise<{ text: string } | { err: unknown }> {
  const storage = new SimStorage();
  const f = await storage.open('/d.tokudb', 'create');
  await f.pwrite(bytes, 0);
  await f.close();
  try {
    const dict = await openFtDictionary(storage, '/d.tokudb');
    let text = '';
    try {
      for await (const r of dict.committedRows()) text += `${escapeBytes(r.key)}\t${escapeBytes(r.value)}\n`;
    } finally {
      await dict.close();
    }
    return { text };
  } catch (err) {
    return { err };
  }
}

/** The node blocks of a dictionary file, from its reference translation (offset, size). */
function nodeExtents(file: string): Array<[number, number]> {
  const t = readFileSync(join(S8, 'ftdump', `${file}.translation-table.txt`), 'utf8').trim().split('\n').map((l) => l.split('\t').map(Number));
  return t.filter((r) => r[0]! >= 3 && r[2]! > 0).map((r) => [r[1]!, r[2]!]);
}

describe('hostile input: damaged nodes of real dictionaries', () => {
  for (const file of ['none_db_2_1_1d.tokudb', 'quicklz_db_2_5_1d.tokudb', 'snappy_db_2_7_1d.tokudb', 'lzma_db_2_6_1d.tokudb', 'zlib_db_2_3_1d.tokudb']) {
    const original = new Uint8Array(readFileSync(join(S8, 'dicts', file)));
    const extents = nodeExtents(file);
    // Property: a bit flipped anywhere in a node block, or a node block cut short, gives either
    // exactly PerconaFT's rows (the byte was padding) or one corrupt-input TokusimError naming
    // the file and the blocknum; never other rows, never another kind of exception.
    it(`Property: ${file} with a flipped bit or a zeroed tail in a node gives the right rows or one clear error`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.nat(extents.length - 1), fc.nat(), fc.nat(7), fc.boolean(), async (which, at, bit, zeroTail) => {
          const [off, size] = extents[which]!;
          const bytes = original.slice();
          const pos = off + (at % size);
          if (zeroTail) bytes.fill(0, pos, off + size);
          else bytes[pos]! ^= 1 << bit;
          const r = await rowsOf(bytes);
          if ('text' in r) {
            expect(r.text).toBe(REFERENCE);
            return;
          }
          expect(r.err).toBeInstanceOf(TokusimError);
          const e = r.err as TokusimError;
          expect(e.code).toBe('TOKUSIM_CORRUPT');
          expect(e.where.file).toBe('/d.tokudb');
          expect(e.where.blocknum).toBeDefined();
          expect(e.message).not.toContain('\n');
        }),
        { numRuns: 40 },
      );
    });
  }

  // Scenario: the file cut in the middle of the nodes: opening it already fails, naming the
  // translation entry (the blocknum) whose block lies past the end; no row is produced.
  it('Scenario: a file truncated inside its node blocks names the block that lies past the end', async () => {
    const original = new Uint8Array(readFileSync(join(S8, 'dicts', 'none_db_2_1_1d.tokudb')));
    const r = await rowsOf(original.subarray(0, 1_500_000));
    expect('err' in r).toBe(true);
    const e = (r as { err: TokusimError }).err;
    expect(e).toBeInstanceOf(TokusimError);
    expect(e.code).toBe('TOKUSIM_CORRUPT');
    expect(e.message).toMatch(/^\/d\.tokudb, offset \d+: translation table entry 6 points past the end of the file/);
  });
});
