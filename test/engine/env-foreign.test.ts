import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Env } from '../../src/node/env.js';
import { TokusimLevel } from '../../src/adapters/abstract-level.js';
import { runRecover } from '../../tools/commands/recover.js';
import { PERCONAFT_SCENARIOS, perconaftCopy, snapshotDir, type Layout } from '../support/dir-snapshot.js';
import { tokusimRejection as rejection } from '../support/rejection.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const root = mkdtempSync(join(tmpdir(), 'tokusim-foreign-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Opener = { name: string; run: (dir: string) => Promise<unknown> };
const OPENERS: Opener[] = [
  { name: 'Env.open', run: (dir) => Env.open(dir, { checkpointPeriodMs: 0, owner: 'foreign' }) },
  { name: 'Env.open readOnly', run: (dir) => Env.open(dir, { readOnly: true }) },
  { name: 'recover', run: (dir) => runRecover(dir, () => undefined, () => undefined, false) },
  { name: 'recover --dry-run', run: (dir) => runRecover(dir, () => undefined, () => undefined, false, { dryRun: true }) },
  // abstract-level wraps the error of _open in its own (LEVEL_DATABASE_NOT_OPEN) as `cause`.
  { name: 'TokusimLevel', run: (dir) => new TokusimLevel(dir, { env: { checkpointPeriodMs: 0 } }).open().catch((e: unknown) => Promise.reject((e as { cause?: unknown }).cause ?? e)) },
];

describe('openers refuse directories tokusim does not own, writing nothing', () => {
  // Scenario: a copy of each real PerconaFT environment (its dicts and logs together, as
  // PerconaFT leaves them), and of its logs alone and its dictionaries alone, is given to every
  // opener; each refuses with one 'not-an-environment' error naming what it found, and not one
  // byte, name or mtime of the directory changes.
  for (const scenario of PERCONAFT_SCENARIOS) {
    for (const layout of ['env', 'logs-only', 'dicts-only'] as Layout[]) {
      it(`Scenario: ${scenario} (${layout}) is refused by every opener and left unchanged`, async () => {
        const dir = perconaftCopy(scenario, layout, root);
        const before = snapshotDir(dir);
        for (const o of OPENERS) {
          const err = await rejection(o.run(dir));
          expect(err.kind, `${o.name}: ${err.message}`).toBe('not-an-environment');
          expect(err.message).toContain(dir);
          expect(err.message).not.toContain('\n');
          if (layout === 'env') expect(err.message, o.name).toMatch(/PerconaFT environment/);
          expect(snapshotDir(dir), o.name).toEqual(before);
        }
      });
    }
  }

  // Scenario: someone's directory full of ordinary files: nothing creates an environment in it.
  it('Scenario: a non-empty directory of other files is refused, unchanged', async () => {
    const dir = join(root, 'home');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    writeFileSync(join(dir, 'sub', 'x'), 'y');
    const before = snapshotDir(dir);
    for (const o of OPENERS) {
      const err = await rejection(o.run(dir));
      expect(err.kind, o.name).toBe('not-an-environment');
      expect(err.message).toMatch(/not a tokusim environment: .*notes\.txt/);
      expect(snapshotDir(dir), o.name).toEqual(before);
    }
  });

  // Scenario: recover on a missing or an empty directory used to create an environment and
  // report a clean shutdown; it refuses instead and creates nothing.
  it('Scenario: recover and read-only open refuse a missing or empty directory and create nothing', async () => {
    const missing = join(root, 'missing');
    const empty = join(root, 'empty');
    mkdirSync(empty);
    for (const dir of [missing, empty]) {
      const before = snapshotDir(dir);
      for (const o of OPENERS.filter((x) => x.name.startsWith('recover') || x.name === 'Env.open readOnly')) {
        const err = await rejection(o.run(dir));
        expect(err.kind, o.name).toBe('not-an-environment');
        expect(err.message).toMatch(dir === missing ? /does not exist/ : /is empty/);
        expect(snapshotDir(dir)).toEqual(before);
      }
    }
  });

  // Scenario: an environment made by an earlier tokusim (no identity file) is recognised by its
  // content and opens with its data; the writable open gives it the identity file.
  it('Scenario: a tokusim environment without an identity file (an earlier version) opens with its data', async () => {
    const dir = join(root, 'legacy');
    const env = await Env.open(dir, { checkpointPeriodMs: 0 });
    await env.put(await env.createDictionary('t'), enc('k'), enc('v'));
    await env.close();
    unlinkSync(join(dir, '__tokusim_env_identity'));
    const ro = await Env.open(dir, { readOnly: true });
    expect(dec((await (await ro.openDictionary('t')).getCommitted(enc('k')))!)).toBe('v');
    await ro.close();
    expect(readdirSync(dir)).not.toContain('__tokusim_env_identity');
    const again = await Env.open(dir, { checkpointPeriodMs: 0 });
    expect(dec((await (await again.openDictionary('t')).getCommitted(enc('k')))!)).toBe('v');
    await again.close();
    expect(readdirSync(dir)).toContain('__tokusim_env_identity');
  });

  // Scenario: a damaged identity file is corrupt input (never silently ignored or rewritten).
  it('Scenario: a damaged identity file is reported as corrupt and nothing is written', async () => {
    const dir = join(root, 'bad-identity');
    await (await Env.open(dir, { checkpointPeriodMs: 0 })).close();
    writeFileSync(join(dir, '__tokusim_env_identity'), 'garbage');
    const before = snapshotDir(dir);
    const err = await rejection(Env.open(dir, { checkpointPeriodMs: 0 }));
    expect(err.kind).toBe('bad-magic');
    expect(err.message).toMatch(/__tokusim_env_identity.*damaged tokusim identity file/);
    expect(snapshotDir(dir)).toEqual(before);
  });
});
