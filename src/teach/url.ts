/**
 * The run in a URL hash (or any query string): scenario, seed, the typed operations, the
 * injected faults and the position, so a trace can be shared and the same URL reproduces the
 * same run (the recorder is deterministic by seed).
 *
 *   #s=basic&seed=1&ops=put%20apple%201%3Bcheckpoint&crash=53&unsynced=torn&flip=d_2.tokudb:1&at=40&predict=1
 *
 * Invariants:
 *  - parseRunHash(formatRunHash(x)) deep-equals x for every valid x.
 *  - A bad hash gives one TokusimError (bad-argument) naming the parameter, never a half-read run.
 */
import { TokusimError } from '../base/errors.js';
import { formatOp, parseScript } from './ops.js';
import type { RunSpec, UnsyncedFate } from './recorder.js';
import { DEFAULT_OPTIONS, findScenario, scenarioOps, SCENARIOS } from './scenarios.js';

/** The scenario name of a run of the learner's own operations on the default settings. */
export const CUSTOM = 'custom';

/** A run and where the viewer stands in it. */
export interface RunLocation {
  spec: RunSpec;
  /** The step shown. */
  at: number;
  /** Predict mode on. */
  predict: boolean;
}

const FATES: readonly UnsyncedFate[] = ['keep', 'drop', 'torn'];

function badParam(name: string, expected: string, actual: string): TokusimError {
  return new TokusimError('bad-argument', `bad run parameter ${name}`, { expected, actual: JSON.stringify(actual) });
}

function int(p: URLSearchParams, name: string, min: number): number | undefined {
  const v = p.get(name);
  if (v === null || v === '') return undefined;
  if (!/^\d{1,10}$/.test(v) || Number(v) < min) throw badParam(name, `an integer >= ${min}`, v);
  return Number(v);
}

/** The spec of a named scenario with seed and no faults. */
export function scenarioSpec(name: string, seed = 1): RunSpec {
  const s = findScenario(name);
  if (s === undefined) throw new TokusimError('bad-argument', 'unknown scenario', { expected: `one of ${SCENARIOS.map((x) => x.name).join(', ')}`, actual: JSON.stringify(name) });
  return { scenario: s.name, seed, ops: scenarioOps(s), faults: {}, options: { ...s.options } };
}

/** Read a run from a hash ('#...' or '...'). An empty hash is the first scenario at step 0. */
export function parseRunHash(hash: string): RunLocation {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const name = p.get('s') ?? SCENARIOS[0]!.name;
  const seed = int(p, 'seed', 0) ?? 1;
  // 'custom': the learner's own operations on the default engine settings.
  const spec: RunSpec = name === CUSTOM ? { scenario: CUSTOM, seed, ops: [], faults: {}, options: { ...DEFAULT_OPTIONS } } : scenarioSpec(name, seed);
  const ops = p.get('ops');
  if (ops !== null) spec.ops = parseScript(ops);
  const crash = int(p, 'crash', 0);
  if (crash !== undefined) spec.faults.crashAt = crash;
  const fate = p.get('unsynced');
  if (fate !== null) {
    if (!FATES.includes(fate as UnsyncedFate)) throw badParam('unsynced', FATES.join(' | '), fate);
    spec.faults.unsynced = fate as UnsyncedFate;
  }
  const flip = p.get('flip');
  if (flip !== null) {
    const m = /^([A-Za-z0-9_.]{1,64}):([01])$/.exec(flip);
    if (m === null) throw badParam('flip', 'FILE:SLOT, e.g. d_2.tokudb:1', flip);
    spec.faults.flip = { file: m[1]!, slot: Number(m[2]) as 0 | 1 };
  }
  return { spec, at: int(p, 'at', 0) ?? 0, predict: p.get('predict') === '1' };
}

/** Write a run as a hash (without the '#'); parameters at their defaults are left out. */
export function formatRunHash(loc: RunLocation): string {
  const p = new URLSearchParams();
  const { spec } = loc;
  p.set('s', spec.scenario);
  p.set('seed', String(spec.seed));
  const own = findScenario(spec.scenario);
  const text = spec.ops.map(formatOp).join(';');
  if (own === undefined || scenarioOps(own).map(formatOp).join(';') !== text) p.set('ops', text);
  if (spec.faults.crashAt !== undefined) p.set('crash', String(spec.faults.crashAt));
  if (spec.faults.unsynced !== undefined) p.set('unsynced', spec.faults.unsynced);
  if (spec.faults.flip !== undefined) p.set('flip', `${spec.faults.flip.file}:${spec.faults.flip.slot}`);
  if (loc.at !== 0) p.set('at', String(loc.at));
  if (loc.predict) p.set('predict', '1');
  return p.toString();
}
