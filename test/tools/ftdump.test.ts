import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceDicts } from '../format/ft-fixtures-helper.js';
import { ctimeUtc, runFtdump } from '../../tools/commands/ftdump.js';

const withDumps = referenceDicts().filter((d) => d.ftdumpDir !== undefined);

function referenceExit(dir: string, name: string, mode: string): number {
  const lines = readFileSync(join(dir, 'exit_codes.txt'), 'utf8').split('\n');
  const line = lines.find((l) => l.startsWith(`${name} ${mode} `));
  if (!line) throw new Error(`no exit code for ${name} ${mode}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('tokusim ftdump against the real tokuftdump', () => {
  it('covers every reference ftdump output (one per dictionary file, nested S7 runs and S8 included)', () => {
    const dirs = [...new Set(withDumps.map((d) => d.ftdumpDir!))];
    const outputs = dirs.flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.header.txt')).map((f) => join(dir, f)));
    expect(withDumps.map((d) => join(d.ftdumpDir!, `${d.name}.header.txt`)).sort()).toEqual(outputs.sort());
    expect(dirs.length).toBe(8);
  });

  for (const mode of ['--header', '--translation-table'] as const) {
    for (const d of withDumps) {
      // Scenario: dump a real dictionary and compare stdout and exit code with tokuftdump's.
      it(`Scenario: ${mode} of ${d.run}/${d.name} is byte-identical`, async () => {
        const suffix = mode === '--header' ? 'header' : 'translation-table';
        const expected = readFileSync(join(d.ftdumpDir!, `${d.name}.${suffix}.txt`), 'utf8');
        const code = referenceExit(d.ftdumpDir!, d.name, mode);
        const r = await runFtdump({ file: d.path, header: mode === '--header', 'translation-table': mode === '--translation-table' });
        expect(r.stdout).toBe(expected);
        expect(r.code).toBe(code);
        const errFile = join(d.ftdumpDir!, `${d.name}.${suffix}.err`);
        if (existsSync(errFile)) {
          // The real tool says "can not deserialize from NAME error N"; so do we (one line).
          const realErr = readFileSync(errFile, 'utf8');
          const m = /can not deserialize from \S+ error (-?\d+)/.exec(realErr)!;
          expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
          expect(r.stderr).toContain(`can not deserialize from ${d.path} error ${m[1]}`);
        } else {
          expect(r.stderr).toBe('');
        }
      });
    }
  }

  it('Scenario: --both-headers on the 0-byte reference dictionary exits 1 with the error tokuftdump reports (-100006)', async () => {
    const d = referenceDicts().find((x) => x.name === 's7_uncommitted_b_1_1d.tokudb')!;
    expect(referenceExit(d.ftdumpDir!, d.name, '--header')).toBe(1);
    const r = await runFtdump({ file: d.path, 'both-headers': true });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`can not deserialize from ${d.path} error -100006`);
    expect(r.stdout.split('\n')[1]).toMatch(/^status\s+no-header \(-100006\)\s+no-header \(-100006\)$/);
  });

  it('Scenario: ctime formatting pads the day with a space, like ctime(3) in UTC', () => {
    expect(ctimeUtc(0n)).toBe('Thu Jan  1 00:00:00 1970');
    expect(ctimeUtc(1795315491n)).toBe('Sun Nov 22 02:44:51 2026');
  });

  it('Scenario: --both-headers shows both slots with their validity', async () => {
    const d = withDumps.find((x) => x.run === 'S2_open_txns_at_checkpoint' && x.name === 'one_db_2_1_1d.tokudb')!;
    const r = await runFtdump({ file: d.path, 'both-headers': true });
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[1]).toMatch(/^status\s+valid\s+valid \(chosen\)$/);
    expect(lines.find((l) => l.startsWith('checkpoint_count'))).toMatch(/^checkpoint_count\s+1\s+2$/);
  });

  // Scenario: tokuftdump exits 1 in every mode when no header slot can be deserialized (the
  // reference's 0-byte s7_uncommitted file); --both-headers still prints the table, then does the same.
  it('Scenario: --both-headers on a file with no valid slot still shows the table, says why on stderr and exits 1 like tokuftdump', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-ftdump-'));
    try {
      const path = join(dir, 'garbage.tokudb');
      writeFileSync(path, Uint8Array.from({ length: 10_000 }, (_, i) => (i * 131 + 7) & 0xff));
      const r = await runFtdump({ file: path, 'both-headers': true });
      expect(r.code).toBe(1);
      expect(r.stdout.split('\n')[1]).toMatch(/^status\s+einval \(22\)\s+einval \(22\)$/);
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^tokusim: can not deserialize from ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} error 22: neither header slot is valid: `));
      const h = await runFtdump({ file: path, header: true });
      expect(h.code).toBe(1);
      expect(h.stderr).toMatch(/bad magic, not a PerconaFT dictionary \(expected "tokudata", actual 07 8a 0d 90 13 96 19 9c\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
