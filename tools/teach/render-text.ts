/**
 * The terminal form of a teaching step: the narration, then the state panels (PAIRs, locks,
 * translations, header slots, log tail, invariants). Colour only underlines what the words
 * and symbols already say (a pending PAIR reads "P", a durable record "durable"), so the text
 * is complete with NO_COLOR.
 */
import pc from 'picocolors';
import type { TeachStep } from '../../src/teach/recorder.js';
import type { TeachState } from '../../src/teach/snapshot.js';

const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/** The panels a state is shown in, in order. */
export type PanelName = 'pairs' | 'locks' | 'btt' | 'headers' | 'log' | 'txns' | 'invariants';
export const PANELS: readonly PanelName[] = ['pairs', 'locks', 'btt', 'headers', 'log', 'txns', 'invariants'];

function lockText(l: { readers: number; writer: boolean; waitingReaders: number; waitingWriters: number }): string {
  const held = l.writer ? 'W' : l.readers > 0 ? `R${l.readers}` : 'free';
  const waits = l.waitingReaders + l.waitingWriters > 0 ? ` (+${l.waitingWriters}w ${l.waitingReaders}r waiting)` : '';
  return held + waits;
}

/** The lines of one panel. */
export function panel(s: TeachState, name: PanelName, logTail = 6): string[] {
  switch (name) {
    case 'pairs': {
      if (s.cachetable === null) return [pc.bold('PAIRs'), '  (no process: the machine is down)'];
      const rows = s.cachetable.pairs.map((p) => {
        const cells = [
          `${base(p.cachefile)}:${p.blocknum}`.padEnd(24),
          `pin ${p.pin}${p.pinCount > 1 ? p.pinCount : ''}`.padEnd(7),
          (p.dirty ? 'dirty' : 'clean').padEnd(6),
          (p.checkpointPending ? 'PENDING' : '-').padEnd(8),
          (p.cloned ? 'CLONED' : '-').padEnd(7),
          `disk ${p.diskMutex.writer ? 'busy' : 'idle'}`.padEnd(10),
          `lock ${lockText(p.valueLock)}`,
        ];
        const line = `  ${cells.join(' ')}`;
        return p.checkpointPending ? pc.yellow(line) : p.cloned ? pc.cyan(line) : line;
      });
      return [pc.bold(`PAIRs (${s.cachetable.pairs.length}; pending list: ${s.cachetable.pendingList.map(base).join(', ') || 'empty'}; clone jobs ${s.cachetable.cloneJobs})`), ...rows];
    }
    case 'locks': {
      if (s.globalLocks === null) return [pc.bold('locks'), '  (none: the machine is down)'];
      const g = s.globalLocks.map((l) => `  ${l.name.padEnd(34)} ${lockText(l).padEnd(10)} ${l.holders.length > 0 ? `held by ${l.holders.join(', ')}` : ''}`.trimEnd());
      const pl = (s.cachetable?.locks ?? []).map((l) => `  ${l.name.padEnd(34)} ${lockText(l)}`);
      return [pc.bold('locks (global, then pair list)'), ...g, ...pl];
    }
    case 'btt': {
      const out = [pc.bold('block translation tables (blocknum -> offset+size)')];
      for (const d of s.dictionaries) {
        const t = (v: { entries: Array<{ blocknum: number; diskoff: string; size: string }> } | null): string =>
          v === null ? 'none' : v.entries.filter((e) => e.blocknum >= 3).map((e) => (e.size === '0' ? `${e.blocknum}->(not on disk)` : `${e.blocknum}->${e.diskoff}+${e.size}`)).join(' ') || '(empty)';
        out.push(`  ${base(d.name)}  header ${d.headerDirty ? 'dirty' : 'clean'}${d.checkpointHeader !== null ? `, checkpoint header lsn ${d.checkpointHeader.checkpointLsn} ${d.checkpointHeader.dirty ? 'dirty' : 'clean'}` : ''}`);
        out.push(`    current      ${t(d.translations.current)}`);
        out.push(`    inprogress   ${t(d.translations.inprogress)}`);
        out.push(`    checkpointed ${t(d.translations.checkpointed)}`);
        out.push(`    free holes   ${d.allocator.holes.map((h) => `${h.offset}+${h.size}`).join(' ') || 'none below the end'}`);
      }
      return out;
    }
    case 'headers': {
      const out = [pc.bold('header slots on disk (slot 0 @0, slot 1 @4096)')];
      for (const f of s.headerFiles) {
        const slot = (x: (typeof f.slots)[0]): string =>
          x.status === 'ok' ? `count ${x.checkpointCount} lsn ${x.checkpointLsn}${x.newest ? ' NEWEST' : ''}${x.durable ? '' : ' (not durable)'}` : x.status;
        out.push(`  ${base(f.path).padEnd(20)} slot 0: ${slot(f.slots[0]).padEnd(34)} slot 1: ${slot(f.slots[1])}`);
      }
      return out;
    }
    case 'log': {
      const r = s.log.records.slice(-logTail);
      const out = [pc.bold(`log (last LSN ${s.log.lastLsn ?? '-'}, written ${s.log.writtenLsn ?? '-'}, durable ${s.log.syncedLsn ?? '-'}; ${s.log.records.length} records in ${s.log.files.length} file(s))`)];
      for (const x of r) {
        const tag = x.where === 'durable' ? 'durable ' : x.where === 'written' ? 'written ' : 'buffered';
        const line = `  ${tag} ${x.text}`;
        out.push(x.where === 'durable' ? line : pc.dim(line));
      }
      for (const d of s.log.damaged) out.push(pc.red(`  damaged: ${base(d.file)} at offset ${d.offset}: ${d.problem}`));
      return out;
    }
    case 'txns':
      return [pc.bold('transactions'), ...(s.txns.length === 0 ? ['  none live'] : s.txns.map((t) => `  ${t.name} (id ${t.id}) ${t.state}`))];
    case 'invariants': {
      const bad = s.invariants.filter((i) => !i.ok);
      if (bad.length === 0) return [`invariants: all ${s.invariants.length} hold`];
      return [pc.bold(pc.red('INVARIANTS VIOLATED')), ...bad.map((i) => pc.red(`  VIOLATED ${i.id}: ${i.text}: ${i.detail ?? ''}`))];
    }
  }
}

/** The narration lines of a step. */
export function stepHeader(step: TeachStep, total: number): string[] {
  const stage = step.state.checkpoint !== null && step.state.checkpoint.stage !== 'idle' ? ` [checkpoint: ${step.state.checkpoint.stage}]` : step.state.phase !== 'running' ? ` [${step.state.phase}]` : '';
  return [`${pc.bold(`step ${step.index}/${total - 1}`)} ${pc.dim(step.source)}${stage}  ${step.narration.title}`, pc.dim(`  why: ${step.narration.why}`)];
}

/** A step with the panels that changed since prev (all of them when prev is undefined). */
export function renderStep(step: TeachStep, total: number, prev: TeachStep | undefined): string {
  const out = stepHeader(step, total);
  for (const name of PANELS) {
    const now = panel(step.state, name);
    if (prev !== undefined && panel(prev.state, name).join('\n') === now.join('\n')) continue;
    out.push(...now.map((l) => `  ${l}`));
  }
  return out.join('\n');
}
