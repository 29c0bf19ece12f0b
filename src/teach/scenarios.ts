/**
 * The teaching scenarios shared by the terminal tour and the page: each is a short script in
 * the operation language of ops.ts plus the engine options it needs. They are ordered as the
 * tutorial (docs/teach.md) reads them.
 *
 * Invariants: names are unique, lower-case words joined by '-'; every script parses.
 */
import { invariant } from '../base/errors.js';
import { parseScript, type TeachOp } from './ops.js';

/** Engine settings a scenario may change. */
export interface ScenarioOptions {
  /** Clone-on-write for the user dictionary's nodes (default true). */
  cloneOnWrite: boolean;
  /** Log file size before rollover, bytes (small values make several files to trim). */
  lgMax: number;
  /** B+tree fan-out (small values give several PAIRs for a few keys). */
  maxEntries: number;
}

/** One scenario. */
export interface Scenario {
  name: string;
  title: string;
  /** One sentence: what the scenario shows. */
  summary: string;
  /** What to look at while stepping through it. */
  look: string;
  script: string;
  options: ScenarioOptions;
}

/** The defaults every scenario starts from. */
export const DEFAULT_OPTIONS: Readonly<ScenarioOptions> = Object.freeze({ cloneOnWrite: true, lgMax: 1 << 20, maxEntries: 4 });

const S = (s: Omit<Scenario, 'options'> & { options?: Partial<ScenarioOptions> }): Scenario => ({ ...s, options: { ...DEFAULT_OPTIONS, ...s.options } });

/** Every scenario, in tutorial order. */
export const SCENARIOS: readonly Scenario[] = [
  S({
    name: 'basic',
    title: 'A basic checkpoint',
    summary: 'Three commits, then one checkpoint from begin_checkpoint to end_checkpoint.',
    look: 'the stages; the pending bits set at begin and cleared as each PAIR is written; the inprogress translation; which header slot is written; the log fsynced before the headers and end_checkpoint after them',
    script: 'put apple 1; put banana 2; put cherry 3; checkpoint',
  }),
  S({
    name: 'clone-on-write',
    title: 'A client write-pins a pending PAIR (clone-on-write)',
    summary: 'While a checkpoint is paused after its begin, a client changes a dirty PAIR that is still pending: the PAIR is cloned, the clone is written for the checkpoint, the client goes on at once.',
    look: 'pending-cleared by "client", pair-cloned by "client", the clone write with forCheckpoint; the checkpoint image holds the value as of begin',
    script: 'put apple 1; put banana 2; checkpoint; put apple 10; during afterBegin put apple 20; checkpoint',
  }),
  S({
    name: 'no-clone',
    title: 'The same without a clone callback',
    summary: 'The same script on nodes that cannot be cloned: the client must write the pending PAIR out for the checkpoint itself before it may change it.',
    look: 'no pair-cloned for the tree nodes; a pair-written with forCheckpoint made by the client while it holds the write pin (spec §10.1 T4)',
    script: 'put apple 1; put banana 2; checkpoint; put apple 10; during afterBegin put apple 20; checkpoint',
    options: { cloneOnWrite: false },
  }),
  S({
    name: 'eviction',
    title: 'Eviction during a checkpoint',
    summary: 'The evictor runs while PAIRs are pending: a dirty pending PAIR is written with forCheckpoint set before it leaves memory; a clean one just goes.',
    look: 'pending-cleared by "evictor", pair-written with forCheckpoint, pair-evicted with wasPending; the checkpoint thread finds fewer PAIRs to write',
    script: 'put apple 1; put banana 2; put cherry 3; checkpoint; put banana 20; during afterBegin evict; checkpoint',
  }),
  S({
    name: 'crash-before-end',
    title: 'A crash after the headers, before end_checkpoint',
    summary: 'The second checkpoint writes and fsyncs every header, then the machine stops before end_checkpoint is logged; recovery turns around at the first checkpoint and opens tokudb.rollback at its older header slot.',
    look: 'the header slots before the crash (the new one written); the backward scan skipping the incomplete checkpoint; the turning point; tokudb.rollback opened with max_acceptable_lsn = the older begin; which transactions survive',
    script: 'put apple 1; begin T; T put banana 2; checkpoint; put cherry 3; T put date 4; during afterHeadersBeforeEndCheckpoint crash; checkpoint',
  }),
  S({
    name: 'xstillopen',
    title: 'Transactions open and prepared across a checkpoint',
    summary: 'A live transaction and a prepared one span a checkpoint: begin_checkpoint logs xstillopen and xstillopenprepared for them; after a crash recovery aborts the live one and keeps the prepared one prepared, and the learner commits it.',
    look: 'the xstillopen / xstillopenprepared records after begin_checkpoint and the counts in end_checkpoint; after recovery, T is gone and P is prepared; P commit then makes its write visible',
    script: 'begin T; T put apple 1; begin P; P put banana 2; P prepare; checkpoint; put cherry 3; crash; P commit',
  }),
  S({
    name: 'trim',
    title: 'Log trimming',
    summary: 'With small log files, the log rolls over several times; after a checkpoint whose end_checkpoint is durable, the files holding only records older than its begin are deleted.',
    look: 'rollover events; log-trimmed with the begin LSN it trims to and the files deleted; the log panel losing its oldest file',
    script: 'put apple 1; put banana 2; put cherry 3; put date 4; put elder 5; put fig 6; checkpoint; put grape 7; checkpoint',
    options: { lgMax: 1024 },
  }),
  S({
    name: 'slots',
    title: 'The alternating header slots',
    summary: 'Four checkpoints in a row: each header is written to the slot the other one is not in (count odd: slot 0, even: slot 1), so a crash while writing one always leaves the other.',
    look: 'header-written slot 0, 1, 0, 1 for the user dictionary; checkpoint_count and checkpoint_lsn in the hex of each slot; a clean file (no change) skipped',
    script: 'put apple 1; checkpoint; put apple 2; checkpoint; put apple 3; checkpoint; put apple 4; checkpoint',
  }),
];

for (const s of SCENARIOS) {
  invariant(/^[a-z]+(-[a-z]+)*$/.test(s.name), () => `scenario name ${s.name}`);
  parseScript(s.script);
}
invariant(new Set(SCENARIOS.map((s) => s.name)).size === SCENARIOS.length, 'scenario names are unique');

/** The scenario named name, or undefined. */
export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

/** The ops of a scenario's script. */
export function scenarioOps(s: Scenario): TeachOp[] {
  return parseScript(s.script);
}
