// Scenarios: `tokusim extract` on tokusim's own environments, crashed and clean: the
// checkpointed trees read through a read-only engine, plus the committed log after them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Env } from '../../src/node/env.js';
import { escapeBytes } from '../../src/format/json.js';
import { rowsOf, runExtract, snapshotDir } from './helpers.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tokusim-extract-'));
  dirs.push(d);
  return d;
}

/** The expected TSV lines of a model: key → value, in byte order of keys. */
function expectedLines(model: Map<string, Uint8Array>): string[] {
  return [...model.entries()]
    .map(([k, v]) => [Buffer.from(k, 'latin1'), v] as const)
    .sort((x, y) => Buffer.compare(x[0], y[0]))
    .map(([k, v]) => `${escapeBytes(k)}\t${escapeBytes(v)}`);
}

describe('tokusim extract on a tokusim environment', () => {
  // Scenario: rows checkpointed, then committed puts and deletes after the checkpoint, a
  // dictionary created after it, and a transaction still open at the crash. Extract prints
  // the committed rows of each and reports the open transaction; the directory is untouched.
  it('Scenario: a crashed environment gives its committed rows (file + log), and nothing is written', async () => {
    const dir = tempDir();
    const env = await Env.open(dir, { checkpointPeriodMs: 0, owner: 'extract-test' });
    const a = await env.createDictionary('alpha');
    const modelA = new Map<string, Uint8Array>();
    const put = async (k: string, v: Uint8Array): Promise<void> => {
      await env.put(a, enc(k), v);
      modelA.set(Buffer.from(enc(k)).toString('latin1'), v);
    };
    for (let i = 0; i < 300; i++) await put(`k${String(i).padStart(4, '0')}`, enc(`before-${i}`));
    await put('tab\there', Uint8Array.of(0, 0x80, 0xff, 0x0a, 0x22, 0x5c));
    await env.checkpoint();
    for (let i = 0; i < 300; i += 7) await put(`k${String(i).padStart(4, '0')}`, enc(`after-${i}`));
    for (let i = 1; i < 300; i += 11) {
      await env.del(a, enc(`k${String(i).padStart(4, '0')}`));
      modelA.delete(`k${String(i).padStart(4, '0')}`);
    }
    await put('new-after-checkpoint', enc('x'));
    const b = await env.createDictionary('beta');
    await env.put(b, enc('b1'), enc('only in the log'));
    const open = env.begin();
    await open.put(a, enc('k0000'), enc('uncommitted'));
    await open.put(a, enc('zz-uncommitted'), enc('never'));
    // A later durable commit makes the open transaction's writes durable in the log too.
    await env.put(b, enc('b2'), enc('after the open writes'));
    env.abandon(); // the files stay as written: like a killed process

    const before = snapshotDir(dir);
    const r = await runExtract(dir);
    expect(snapshotDir(dir)).toEqual(before);
    expect(r.stderr).not.toMatch(/tokusim:/);
    expect(r.code).toBe(0);
    const inames = [...new Set(r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t')[0]!))];
    const alpha = inames.find((n) => n.startsWith('alpha'))!;
    const beta = inames.find((n) => n.startsWith('beta'))!;
    expect(rowsOf(r.stdout, alpha)).toEqual(expectedLines(modelA));
    expect(rowsOf(r.stdout, beta)).toEqual(['b1\tonly in the log', 'b2\tafter the open writes']);
    // The directory maps both names; the open transaction is reported, not applied.
    expect(rowsOf(r.stdout, 'tokudb.directory').map((l) => l.split('\t')[0])).toEqual(['alpha', 'beta']);
    expect(r.stderr).toMatch(new RegExp(`not applied: txn ${open.id},0 still live at the end of the log .*: 2 write\\(s\\)`));
  });

  // Scenario: --dict picks dictionaries by name; an unknown name is a usage error naming the
  // dictionaries there are.
  it('Scenario: --dict selects by dname; an unknown one is refused with exit 2', async () => {
    const dir = tempDir();
    const env = await Env.open(dir, { checkpointPeriodMs: 0, owner: 'extract-test' });
    const a = await env.createDictionary('alpha');
    await env.put(a, enc('k'), enc('v'));
    await env.close();
    const r = await runExtract(dir, { dicts: ['alpha'] });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t').slice(1).join('\t'))).toEqual(['k\tv']);
    await expect(runExtract(dir, { dicts: ['nope'] })).rejects.toMatchObject({ kind: 'bad-argument', message: expect.stringMatching(/no dictionary named "nope" \(dictionaries: .*alpha/) });
  });
});
