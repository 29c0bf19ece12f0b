/**
 * The teaching model: the operation language, the URL form of a run, the header layout the
 * views annotate with, and the recorder's determinism (same spec, same steps; a prefix is
 * stable, so back/forward and fork are exact).
 */
import { describe, expect, it } from 'vitest';
import { TokusimError } from '../../src/base/errors.js';
import { encodeFtHeader, newFtHeader } from '../../src/format/ft-header.js';
import { HEADER_FIELDS, readHeaderField } from '../../src/teach/header-layout.js';
import { formatOp, parseOp, parseScript } from '../../src/teach/ops.js';
import { recordTour } from '../../src/teach/recorder.js';
import { DEFAULT_OPTIONS, SCENARIOS, scenarioOps } from '../../src/teach/scenarios.js';
import { formatRunHash, parseRunHash, scenarioSpec } from '../../src/teach/url.js';

describe('teach: operations and URLs', () => {
  it('Scenario: every operation form parses and prints back to the same text', () => {
    const lines = ['put a 1', 'del a', 'begin T', 'T put k v', 'T del k', 'T commit', 'T abort', 'T prepare', 'checkpoint', 'evict', 'crash', 'during afterBegin put a 2', 'during afterHeadersBeforeEndCheckpoint crash', 'during afterBegin T commit'];
    for (const l of lines) {
      expect(formatOp(parseOp(l))).toBe(l);
      expect(parseOp(formatOp(parseOp(l)))).toEqual(parseOp(l));
    }
    expect(parseScript('put a 1;\n# a comment\n checkpoint ;')).toEqual([{ kind: 'put', key: 'a', value: '1' }, { kind: 'checkpoint' }]);
  });

  it('Scenario: a bad line is one bad-argument error naming its line, what was expected and what was found', () => {
    for (const [text, line] of [['put a', 1], ['checkpoint\nfrobnicate x', 2], ['during nowhere put a 1', 1], ['during afterBegin checkpoint', 1], ['t commit', 1], ['T launch', 1]] as const) {
      let err: unknown;
      try {
        parseScript(text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TokusimError);
      expect((err as TokusimError).kind).toBe('bad-argument');
      expect((err as Error).message).toContain(`line ${line}`);
      expect((err as Error).message).toMatch(/expected .*, actual "/);
    }
  });

  it('Scenario: a run survives the trip through its URL hash', () => {
    const spec = scenarioSpec('crash-before-end', 7);
    spec.faults = { crashAt: 42, unsynced: 'torn', flip: { file: 'd_2.tokudb', slot: 1 } };
    const loc = { spec, at: 17, predict: true };
    expect(parseRunHash(formatRunHash(loc))).toEqual(loc);
    const custom = { spec: { ...scenarioSpec('basic'), scenario: 'basic', ops: parseScript('put x 1; checkpoint; crash') }, at: 0, predict: false };
    expect(formatRunHash(custom)).toContain('ops=');
    expect(parseRunHash(formatRunHash(custom))).toEqual(custom);
    const own = { spec: { scenario: 'custom', seed: 2, ops: parseScript('put x 1; crash'), faults: {}, options: { ...DEFAULT_OPTIONS } }, at: 3, predict: false };
    expect(parseRunHash(formatRunHash(own))).toEqual(own);
    expect(parseRunHash('')).toEqual({ spec: scenarioSpec(SCENARIOS[0]!.name), at: 0, predict: false });
    expect(() => parseRunHash('#s=nope')).toThrow(/unknown scenario \(expected one of basic,/);
    expect(() => parseRunHash('#s=basic&unsynced=maybe')).toThrow(/expected keep \| drop \| torn/);
  });

  it('Scenario: the annotated header layout reads back every field encodeFtHeader wrote', () => {
    const h = { ...newFtHeader({ nodesize: 4096, now: 1234567n }), checkpointCount: 5n, checkpointLsn: 77n, rootBlocknum: 3n, translationLocation: 8192n, translationSize: 52n, fanout: 16, numrows: 9n };
    const bytes = encodeFtHeader(h);
    const field = (name: string) => readHeaderField(bytes, HEADER_FIELDS.find((f) => f.name === name)!);
    expect(field('magic')).toBe('"tokudata"');
    expect(field('layout_version')).toBe(String(h.layoutVersion));
    expect(field('checkpoint_count')).toBe('5');
    expect(field('checkpoint_lsn')).toBe('77');
    expect(field('translation_location')).toBe('8192');
    expect(field('translation_size')).toBe('52');
    expect(field('root_blocknum')).toBe('3');
    expect(field('nodesize')).toBe('4096');
    expect(field('time_of_creation')).toBe('1234567');
    expect(field('numrows')).toBe('9');
    expect(field('fanout')).toBe('16');
    expect(field('compression_method')).toBe(String(h.compressionMethod));
    const last = HEADER_FIELDS[HEADER_FIELDS.length - 1]!;
    expect(last.offset + last.size).toBe(bytes.length);
  });
});

describe('teach: the recorder is deterministic', () => {
  it('Scenario: the same spec gives the same steps, and a crash at step n leaves steps 0..n unchanged', async () => {
    const s = SCENARIOS.find((x) => x.name === 'basic')!;
    const spec = { scenario: s.name, seed: 3, ops: scenarioOps(s), faults: {}, options: s.options };
    const a = await recordTour(spec);
    const b = await recordTour(spec);
    expect(JSON.stringify(b.steps)).toBe(JSON.stringify(a.steps));
    const n = a.steps.findIndex((x) => x.kind === 'header-written');
    expect(n).toBeGreaterThan(0);
    const crashed = await recordTour({ ...spec, faults: { crashAt: n } });
    expect(JSON.stringify(crashed.steps.slice(0, n + 1))).toBe(JSON.stringify(a.steps.slice(0, n + 1)));
    expect(crashed.steps[n + 1]!.source).toBe('crash');
  });

  it('Scenario: step n, back, forward is the same state (a look-up), and a fork keeps the prefix exactly', async () => {
    const s = SCENARIOS.find((x) => x.name === 'clone-on-write')!;
    const spec = { scenario: s.name, seed: 1, ops: scenarioOps(s), faults: {}, options: s.options };
    const tour = await recordTour(spec);
    const n = tour.steps.findIndex((x) => x.kind === 'pair-cloned');
    const there = JSON.stringify(tour.steps[n]!.state);
    // back = step n-1 of a fresh run; forward = step n again
    const again = await recordTour(spec);
    expect(JSON.stringify(again.steps[n - 1]!.state)).toBe(JSON.stringify(tour.steps[n - 1]!.state));
    expect(JSON.stringify(again.steps[n]!.state)).toBe(there);
    // fork: the operations up to the one running at n, then new ones
    const opIndex = tour.steps[n]!.opIndex;
    const forked = await recordTour({ ...spec, scenario: 'custom', ops: [...spec.ops.slice(0, opIndex + 1), ...parseScript('put kiwi 9; crash')] });
    expect(JSON.stringify(forked.steps.slice(0, n + 1))).toBe(JSON.stringify(tour.steps.slice(0, n + 1)));
    expect(forked.steps.some((x) => x.narration.title === 'client: put kiwi 9')).toBe(true);
    expect(forked.recoveries).toHaveLength(1);
    expect(forked.recoveries[0]!.recovered).toEqual({ apple: '1', banana: '2', kiwi: '9' });
  });

  it('Scenario: an operation that does not fit the state is a refused step and the run goes on', async () => {
    const t = await recordTour({ scenario: 'custom', seed: 1, ops: parseScript('begin T; T put a 1; begin U; U put a 2; U commit; X commit; T commit; put b 2'), faults: {} });
    expect(t.stopped).toBeNull();
    const refused = t.steps.filter((s) => s.kind === 'op-refused').map((s) => s.narration.title);
    expect(refused).toHaveLength(2);
    expect(refused[0]).toMatch(/^refused: /);
    expect(refused[1]).toContain('no live transaction named X');
    expect(t.steps.at(-1)!.kind).toBe('end');
    expect(t.steps.at(-1)!.state.txns).toEqual([]);
  });
});
