import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { runFtdump } from '../../tools/commands/ftdump.js';
import { referenceDicts } from '../format/ft-fixtures-helper.js';

const MODES = ['rootnode', 'summary', 'fragmentation', 'garbage', 'full'] as const;
type Mode = (typeof MODES)[number];

/** The "io time" line of a node dump holds measured times; everything else must match byte for byte. */
const maskTimes = (s: string) => s.replace(/^ io time \S+ decompress time \S+ deserialize time \S+$/gm, ' io time <masked>');

/** Where tokuftdump's correct output for a file is: the snappy-fixed build's for the S8 snappy file. */
function dumpDir(d: { ftdumpDir: string | undefined; name: string }): string {
  const fixed = join(d.ftdumpDir!, '..', 'ftdump_snappyfix');
  return d.name.startsWith('snappy_') && existsSync(fixed) ? fixed : d.ftdumpDir!;
}

function expected(dir: string, name: string, mode: Mode): string | undefined {
  const p = join(dir, `${name}.${mode}.txt`);
  if (existsSync(p)) return readFileSync(p, 'utf8');
  if (existsSync(`${p}.gz`)) return gunzipSync(readFileSync(`${p}.gz`)).toString('utf8');
  return undefined;
}

function referenceExit(dir: string, name: string, mode: Mode): number {
  const text = readFileSync(join(dir, 'exit_codes.txt'), 'utf8');
  const opt = mode === 'full' ? '(no-options)' : `--${mode}`;
  const line = text.split('\n').find((l) => l === `${name} ${opt} ${l.slice(l.lastIndexOf(' ') + 1)}` && l.startsWith(`${name} ${opt} `));
  if (!line) throw new Error(`no exit code for ${name} ${opt} in ${dir}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

const dicts = referenceDicts().filter((d) => d.ftdumpDir !== undefined);

describe('tokusim ftdump node modes against the real tokuftdump', () => {
  let compared = 0;
  for (const d of dicts) {
    for (const mode of MODES) {
      const dir = dumpDir(d);
      const code = referenceExit(dir, d.name, mode);
      // tokuftdump aborts (134) on the rollback nodes of a crashed environment; that case is
      // the subject of its own scenario below.
      if (code === 134) continue;
      // Scenario: dump a real dictionary in this mode; stdout and exit code equal tokuftdump's
      // (the measured times on "io time" lines masked).
      it(`Scenario: --${mode} of ${d.run}/${d.name} is byte-identical`, async () => {
        const want = expected(dir, d.name, mode);
        expect(want, `reference output for ${mode}`).toBeDefined();
        const r = await runFtdump({ file: d.path, ...(mode === 'full' ? {} : { [mode]: true }) });
        expect(r.code).toBe(code);
        if (code === 0) {
          expect(maskTimes(r.stdout)).toBe(maskTimes(want!));
          expect(r.stderr).toBe('');
        } else {
          expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
        }
        compared++;
      });
    }
  }

  it('compared every mode of every reference dictionary, S8 full dumps included', () => {
    expect(compared).toBeGreaterThanOrEqual(dicts.length * MODES.length - 2);
    expect(dicts.filter((d) => d.run === 'S8_node_formats')).toHaveLength(9);
  });

  // Scenario: the rollback file of the crashed S7 run holds three rollback-log nodes; tokuftdump
  // aborts on them (exit 134) in --garbage and the full dump. tokusim prints the tree leaf as
  // tokuftdump would and each rollback node with its entries (newest first).
  it('Scenario: the S7 crash tokudb.rollback prints its rollback nodes where tokuftdump aborts', async () => {
    const d = dicts.find((x) => x.run === 'S7_all_types/crash' && x.name === 'tokudb.rollback')!;
    expect(referenceExit(d.ftdumpDir!, d.name, 'full')).toBe(134);
    const r = await runFtdump({ file: d.path });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const blocks = r.stdout.split(/^(?=ftnode$|rollback log node$)/m).slice(1);
    expect(blocks.map((b) => b.split('\n')[0])).toEqual(['ftnode', 'rollback log node', 'rollback log node', 'rollback log node']);
    expect(blocks[1]).toContain(' blocknum=4\n');
    expect(blocks[1]).toContain(' txnid=5,0\n');
    expect(blocks[1]).toContain(`  0: cmdinsert 'i' filenum=9 key={len=13 data="open-at-crash"}\n`);
    expect(blocks[2]).toContain(' n_entries=4\n');
    expect(blocks[2]).toContain(`  3: cmdinsert 'i' filenum=5 key={len=7 data="acct\\"A\\""}\n`);
    const g = await runFtdump({ file: d.path, garbage: true });
    expect(g.code).toBe(0);
    expect(g.stdout).toBe('LeafNode# 3 has 1 BasementNodes and -nan% of the allocated space is garbage\ngarbage total size :                   0\ngarbage used size  :                   0\nTotal garbage : -nan%\n');
    const j = await runFtdump({ file: d.path, json: true });
    const doc = JSON.parse(j.stdout) as { nodes: Array<{ kind: string; entries?: Array<{ type: string; fields: Record<string, unknown> }> }> };
    expect(doc.nodes.map((n) => n.kind)).toEqual(['ftnode', 'rollback', 'rollback', 'rollback']);
    expect(doc.nodes[1]!.entries![0]!.type).toBe('cmdinsert');
  });

  // Scenario: --json --summary and --rootnode carry the same figures as the text.
  it('Scenario: --summary --json and --rootnode --json of S8 zlib agree with the text dump', async () => {
    const d = dicts.find((x) => x.name === 'zlib_db_2_3_1d.tokudb')!;
    const j = JSON.parse((await runFtdump({ file: d.path, summary: true, rootnode: true, json: true })).stdout) as {
      summary: { messagesCount: number; recordsCount: number; treeHeight: number };
      rootNode: { height: number; children: Array<{ blocknum: string }>; pivots: Array<{ text: string }> };
    };
    expect(j.summary.messagesCount).toBe(754);
    expect(j.summary.recordsCount).toBe(5854);
    expect(j.summary.treeHeight).toBe(2);
    expect(j.rootNode.height).toBe(2);
    expect(j.rootNode.children.map((c) => c.blocknum)).toEqual(['21', '22']);
    expect(j.rootNode.pivots.map((p) => p.text)).toEqual(['k00010800']);
  });
});
