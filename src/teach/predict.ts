/**
 * Predict mode: points of a run where the learner is asked what happens next before seeing
 * it. Every answer is read from the run's own later steps and recovery outcomes, never
 * worked out separately, so a question cannot disagree with what the engine did.
 *
 * Invariants: a question at step `at` is answered by a step after `at` (or by the recovery
 * that step starts); `answer` indexes `choices`.
 */
import type { TeachTour } from './recorder.js';

/** One question. */
export interface Question {
  /** The step at which the run pauses to ask (the learner sees the state of this step). */
  at: number;
  prompt: string;
  choices: string[];
  answer: number;
  /** Where the answer shows up. */
  explain: string;
}

const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/** The questions of a run, in step order. */
export function questionsFor(tour: TeachTour): Question[] {
  const out: Question[] = [];
  const steps = tour.steps;
  // Which PAIR is captured next: asked once the pending bits are set and after each capture.
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    const asks = s.kind === 'pending-bits-set' || (s.kind === 'pair-written' && s.event['forCheckpoint'] === true) || s.kind === 'pair-cloned';
    if (!asks) continue;
    const next = steps.slice(i + 1).find((x) => x.kind === 'pair-cloned' || (x.kind === 'pair-written' && x.event['forCheckpoint'] === true) || x.source === 'crash' || x.kind === 'checkpoint-done');
    if (next === undefined || (next.kind !== 'pair-cloned' && next.kind !== 'pair-written')) continue;
    const answer = `${base(String(next.event['cachefile']))}:${String(next.event['blocknum'])} ${next.kind === 'pair-cloned' ? 'cloned' : 'written'}`;
    const pending = (s.state.cachetable?.pairs ?? []).filter((p) => p.checkpointPending).map((p) => `${base(p.cachefile)}:${p.blocknum}`);
    const choices = [...new Set([...pending.flatMap((p) => [`${p} written`, `${p} cloned`]), answer])].sort();
    if (choices.length < 2) continue;
    out.push({ at: i, prompt: 'Which PAIR is written or cloned next for the checkpoint?', choices, answer: choices.indexOf(answer), explain: `step ${next.index}: ${next.narration.title}` });
  }
  // At each recovery: which header slot each file is opened at, and what became of live transactions.
  tour.steps.forEach((s, i) => {
    if (s.kind !== 'recovery-start') return;
    const outcome = tour.recoveries.find((r) => r.epoch === s.state.epoch);
    if (outcome === undefined) return;
    for (const h of outcome.headerChoices) {
      if (!/rollback|\/d_/.test(h.file)) continue;
      const choices = ['slot 0', 'slot 1', 'neither (recovery fails)'];
      out.push({ at: i, prompt: `Which header slot will recovery open ${base(h.file)} at?`, choices, answer: h.slot === null ? 2 : h.slot, explain: h.why });
    }
    const result = tour.steps.find((x) => x.index > i && x.kind === 'recovered');
    for (const name of outcome.preparedAfter) {
      out.push({ at: i, prompt: `Transaction ${name} was prepared at the crash. After recovery it is…`, choices: ['committed', 'aborted', 'still prepared'], answer: 2, explain: result?.narration.why ?? '' });
    }
    for (const name of outcome.abortedByRecovery.filter((n) => !n.startsWith('txn '))) {
      out.push({ at: i, prompt: `Transaction ${name} was live (not prepared) at the crash. After recovery it is…`, choices: ['committed', 'aborted', 'still prepared'], answer: 1, explain: result?.narration.why ?? '' });
    }
  });
  return out.sort((a, b) => a.at - b.at);
}
