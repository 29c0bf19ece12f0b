/**
 * Every teaching scenario shows what it promises, read from the events the engine emitted
 * (the steps), and every invariant holds at every step. The terminal tour prints each step's
 * narration, in the order of the events.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { recordTour, type TeachStep, type TeachTour } from '../../src/teach/recorder.js';
import { SCENARIOS, scenarioOps } from '../../src/teach/scenarios.js';
import { listScenarios, narrateTour } from '../../tools/commands/teach.js';

const tours = new Map<string, TeachTour>();
const base = (p: unknown): string => String(p).slice(String(p).lastIndexOf('/') + 1);
const kinds = (t: TeachTour, kind: string): TeachStep[] => t.steps.filter((s) => s.kind === kind);
const userFile = (s: TeachStep): boolean => base(s.event['cachefile'] ?? s.event['file']).startsWith('d_');

beforeAll(async () => {
  for (const s of SCENARIOS) tours.set(s.name, await recordTour({ scenario: s.name, seed: 1, ops: scenarioOps(s), faults: {}, options: s.options }));
});

describe('teach: the scenarios', () => {
  it('Scenario: every scenario runs to its end with every invariant holding at every step', () => {
    for (const [name, t] of tours) {
      expect(t.stopped, name).toBeNull();
      const bad = t.steps.flatMap((s) => s.state.invariants.filter((i) => !i.ok).map((i) => `${name} step ${s.index}: ${i.id} ${i.detail}`));
      expect(bad).toEqual([]);
      expect(t.steps.length, name).toBeGreaterThan(20);
    }
  });

  it('Scenario: basic — pending bits, captures, log fsync before the headers, end_checkpoint after them', () => {
    const t = tours.get('basic')!;
    const set = kinds(t, 'pending-bits-set')[0]!;
    expect(Number(set.event['count'])).toBe(set.state.cachetable!.pairs.filter((p) => p.checkpointPending).length);
    const headers = kinds(t, 'header-written');
    const end = kinds(t, 'end_checkpoint').at(-1)!;
    const lastFsyncBeforeHeaders = t.steps.filter((s) => s.kind === 'fsync' && s.index < headers[0]!.index).at(-1)!;
    expect(BigInt(String(lastFsyncBeforeHeaders.event['upToLsn']))).toBeGreaterThanOrEqual(BigInt(String(kinds(t, 'begin_checkpoint').at(-1)!.event['lsn'])));
    expect(headers.every((h) => h.index < end.index)).toBe(true);
    // After the header step, the slot it names holds that count on disk.
    for (const h of headers) {
      const f = h.state.headerFiles.find((x) => x.path === h.event['file'])!;
      expect(f.slots[Number(h.event['slot'])]!.checkpointCount).toBe(String(h.event['checkpointCount']));
    }
  });

  it('Scenario: clone-on-write — the client clears a dirty pending bit and clones the PAIR', () => {
    const t = tours.get('clone-on-write')!;
    const i = t.steps.findIndex((s) => s.kind === 'pending-cleared' && s.event['by'] === 'client' && s.event['dirty'] === true && userFile(s));
    expect(i).toBeGreaterThan(0);
    expect(t.steps.slice(i).find((s) => s.kind === 'pair-cloned' && userFile(s))!.event['by']).toBe('client');
  });

  it('Scenario: no-clone — no clone of the tree nodes; the client writes the pending PAIR for the checkpoint itself', () => {
    const t = tours.get('no-clone')!;
    expect(t.steps.filter((s) => s.kind === 'pair-cloned' && userFile(s))).toEqual([]);
    const i = t.steps.findIndex((s) => s.kind === 'pending-cleared' && s.event['by'] === 'client' && s.event['dirty'] === true && userFile(s));
    expect(i).toBeGreaterThan(0);
    const w = t.steps[i + 1]!;
    expect([w.kind, w.event['forCheckpoint'], w.event['isClone'], userFile(w)]).toEqual(['pair-written', true, false, true]);
    // The client still holds its write pin while writing.
    expect(w.state.cachetable!.pairs.find((p) => `${base(p.cachefile)}:${p.blocknum}` === `${base(w.event['cachefile'])}:${String(w.event['blocknum'])}`)!.pin).toBe('W');
  });

  it('Scenario: eviction — the evictor captures a dirty pending PAIR and writes it for the checkpoint before it leaves', () => {
    const t = tours.get('eviction')!;
    const cleared = t.steps.findIndex((s) => s.kind === 'pending-cleared' && s.event['by'] === 'evictor' && s.event['dirty'] === true);
    expect(cleared).toBeGreaterThan(0);
    const w = t.steps.slice(cleared).find((s) => s.kind === 'pair-written')!;
    expect(w.event['forCheckpoint']).toBe(true);
    expect(kinds(t, 'pair-evicted').some((s) => s.event['wasPending'] === true && s.event['wasDirty'] === true)).toBe(true);
  });

  it('Scenario: crash-before-end — recovery skips the incomplete checkpoint and opens tokudb.rollback at its older slot', () => {
    const t = tours.get('crash-before-end')!;
    const lines = kinds(t, 'recovery').map((s) => s.narration.title);
    expect(lines.some((l) => l.startsWith('skipping incomplete checkpoint'))).toBe(true);
    const r = t.recoveries[0]!;
    const beginLsns = kinds(t, 'begin_checkpoint').map((s) => String(s.event['lsn']));
    expect(r.turningPointLsn).toBe(beginLsns[beginLsns.length - 2]);
    const crash = t.steps.find((s) => s.source === 'crash')!;
    const rb = crash.state.headerFiles.find((f) => f.path.endsWith('tokudb.rollback'))!;
    const newest = rb.slots.find((s) => s.newest)!;
    const choice = r.headerChoices.find((c) => c.file.endsWith('tokudb.rollback'))!;
    expect(BigInt(newest.checkpointLsn!)).toBeGreaterThan(BigInt(r.turningPointLsn!));
    expect(choice.slot).toBe(1 - newest.slot);
    expect(r.verdict).toBe('ok');
    expect(r.abortedByRecovery).toEqual(['T']);
  });

  it('Scenario: xstillopen — both records at begin, T aborted by recovery, P still prepared and committed afterwards', () => {
    const t = tours.get('xstillopen')!;
    expect(kinds(t, 'xstillopen')).toHaveLength(1);
    expect(kinds(t, 'xstillopenprepared')).toHaveLength(1);
    const r = t.recoveries[0]!;
    expect(r.preparedAfter).toEqual(['P']);
    expect(r.abortedByRecovery).toEqual(['T']);
    expect(r.recovered).toEqual({ cherry: '3' });
    expect(t.steps.at(-1)!.state.txns).toEqual([]);
    expect(kinds(t, 'xcommit').at(-1)!.opIndex).toBe(scenarioOps(SCENARIOS.find((s) => s.name === 'xstillopen')!).length - 1);
  });

  it('Scenario: trim — old log files are deleted once a checkpoint is complete', () => {
    const t = tours.get('trim')!;
    expect(kinds(t, 'rollover').length).toBeGreaterThan(1);
    const trimmed = kinds(t, 'log-trimmed').filter((s) => (s.event['deleted'] as string[]).length > 0);
    expect(trimmed.length).toBeGreaterThan(0);
    const firstDelete = t.steps.find((s) => s.kind === 'file-deleted')!;
    expect(firstDelete.index).toBeLessThan(trimmed[0]!.index);
    const before = t.steps[firstDelete.index - 1]!.state.log.files;
    const after = trimmed[0]!.state.log.files;
    expect(after.length).toBeLessThan(before.length);
    for (const f of trimmed[0]!.event['deleted'] as string[]) expect(after).not.toContain(f);
  });

  it('Scenario: slots — the user dictionary header alternates between the two slots', () => {
    const t = tours.get('slots')!;
    const slots = kinds(t, 'header-written').filter(userFile).map((s) => Number(s.event['slot']));
    expect(slots.length).toBeGreaterThanOrEqual(4);
    slots.forEach((s, i) => i > 0 && expect(s).toBe(1 - slots[i - 1]!));
  });
});

describe('teach: the terminal tour', () => {
  it('Scenario: --list names every scenario first on its line', () => {
    const lines = listScenarios().trimEnd().split('\n');
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(SCENARIOS.map((s) => s.name));
  });

  it('Scenario: --all prints every step of every scenario, narrated in the order of the events', () => {
    for (const [name, t] of tours) {
      const text = narrateTour(t).replace(/\x1b\[[0-9;]*m/g, '');
      let from = 0;
      for (const s of t.steps) {
        const at = text.indexOf(`step ${s.index}/${t.steps.length - 1}`, from);
        expect(at, `${name} step ${s.index}`).toBeGreaterThanOrEqual(from);
        const line = text.slice(at, text.indexOf('\n', at));
        expect(line, `${name} step ${s.index}`).toContain(s.narration.title);
        from = at + 1;
      }
      expect(narrateTour(t, 5).replace(/\x1b\[[0-9;]*m/g, '')).not.toContain('step 5/');
    }
  });

  // The built CLI as a process (`make test` builds first): NO_COLOR gives plain text, and the
  // printed tour is the one recorded here.
  it('Scenario: tokusim teach basic --all with NO_COLOR prints the narrated steps without escape codes', () => {
    const cli = join(import.meta.dirname, '..', '..', 'dist', 'tools', 'tokusim.js');
    expect(existsSync(cli), `${cli} missing: run make build`).toBe(true);
    const r = spawnSync(process.execPath, [cli, 'teach', 'basic', '--all'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toContain('\x1b[');
    const t = tours.get('basic')!;
    for (const s of t.steps) expect(r.stdout).toContain(`step ${s.index}/${t.steps.length - 1} ${s.source}`);
    const bad = spawnSync(process.execPath, [cli, 'teach', 'basic', '--script', 'put a'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^tokusim: teach script line 1: not an operation \(expected /);
  });

  // Scenario: --html never replaces a file the user did not ask to replace.
  it('Scenario: tokusim teach --html refuses an existing file (exit 2, file untouched) unless --force', () => {
    const cli = join(import.meta.dirname, '..', '..', 'dist', 'tools', 'tokusim.js');
    const dir = mkdtempSync(join(tmpdir(), 'teach-html-'));
    try {
      const page = join(dir, 'notes.html');
      writeFileSync(page, 'my own notes');
      const r = spawnSync(process.execPath, [cli, 'teach', '--html', page], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain('exists; pass --force');
      expect(readFileSync(page, 'utf8')).toBe('my own notes');
      const f = spawnSync(process.execPath, [cli, 'teach', '--html', page, '--force'], { encoding: 'utf8' });
      expect(f.status).toBe(0);
      expect(readFileSync(page, 'utf8').startsWith('<!doctype html>')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
