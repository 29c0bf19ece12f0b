/**
 * Faults in the teaching runs: a crash at events inside the checkpoint (not only between
 * operations), torn or dropped unsynced writes, and a bit flip in a header slot; recovery must
 * bring back every acknowledged commit, and the header choice the tour reports must be the
 * slot the flip left intact.
 */
import { describe, expect, it } from 'vitest';
import { parseScript } from '../../src/teach/ops.js';
import { recordTour } from '../../src/teach/recorder.js';
import { scenarioSpec } from '../../src/teach/url.js';

describe('teach: faults', () => {
  it('Scenario: a crash at events spread over the whole checkpoint recovers every acknowledged commit', async () => {
    const spec = scenarioSpec('basic');
    const clean = await recordTour(spec);
    const first = clean.steps.findIndex((s) => s.kind === 'checkpoint' && s.source === 'op');
    const last = clean.steps.findIndex((s) => s.kind === 'checkpoint-done');
    expect(first).toBeGreaterThan(0);
    const points = [];
    for (let n = first + 1; n <= last; n += 7) points.push(n);
    for (const n of points) {
      for (const unsynced of ['drop', 'torn'] as const) {
        const t = await recordTour({ ...spec, faults: { crashAt: n, unsynced } });
        expect(t.stopped, `crash at ${n} (${unsynced})`).toBeNull();
        expect(t.steps[n + 1]!.source).toBe('crash');
        expect(t.recoveries).toHaveLength(1);
        expect(t.recoveries[0]!.verdict, `crash at ${n} (${unsynced}): ${t.recoveries[0]!.detail}`).toBe('ok');
        expect(t.recoveries[0]!.recovered).toEqual({ apple: '1', banana: '2', cherry: '3' });
      }
    }
  });

  it('Scenario: a bit flip in the newest header slot makes recovery open the other slot', async () => {
    const spec = { ...scenarioSpec('slots'), ops: [...scenarioSpec('slots').ops, ...parseScript('put apple 5; crash')] };
    const plain = await recordTour(spec);
    const atCrash = plain.steps.find((s) => s.source === 'crash')!;
    const d = atCrash.state.headerFiles.find((f) => f.path.endsWith('/d_2.tokudb'))!;
    const newest = d.slots.find((s) => s.newest)!.slot;
    const flipped = await recordTour({ ...spec, faults: { flip: { file: 'd_2.tokudb', slot: newest } } });
    const flip = flipped.steps.find((s) => s.kind === 'bit-flip')!;
    expect(Number(flip.event['bits'])).toBeGreaterThan(0);
    expect(flip.state.headerFiles.find((f) => f.path.endsWith('/d_2.tokudb'))!.slots[newest]!.status).toBe('bad-checksum');
    const r = flipped.recoveries[0]!;
    const choice = r.headerChoices.find((c) => c.file.endsWith('/d_2.tokudb'))!;
    expect(choice.slot).toBe(1 - newest);
    expect(r.verdict).toBe('ok');
    expect(r.recovered).toEqual({ apple: '5' });
    expect(plain.recoveries[0]!.headerChoices.find((c) => c.file.endsWith('/d_2.tokudb'))!.slot).toBe(newest);
  });
});
