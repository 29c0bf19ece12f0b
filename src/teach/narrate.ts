/**
 * Narration: one short line of what happened and one of why, in the spec's vocabulary
 * (checkpoint-algorithm.md, recovery.md), for every event the teaching mode shows. The text
 * is derived from the event alone, so the same event always reads the same.
 *
 * Invariants: every event type the recorder turns into a step has a narration here (the
 * switches are exhaustive over the event unions; the compiler checks it).
 */
import type { CachetableEvent } from '../cachetable/events.js';
import type { CheckpointEvent, CheckpointStage } from '../checkpoint/events.js';
import type { LogEvent } from '../log/events.js';

/** What a step says. */
export interface Narration {
  title: string;
  why: string;
}

const base = (path: string): string => path.slice(path.lastIndexOf('/') + 1);
const pairName = (cachefile: string, blocknum: bigint): string => `${base(cachefile)}:${blocknum}`;

const LOCK_TEXT: Record<string, string> = {
  checkpointSafe: 'checkpoint-safe lock',
  lowPriorityMo: 'low-priority multi-operation lock',
  mo: 'multi-operation (MO) lock',
  openClose: 'open/close lock',
};

const STAGE_WHY: Record<CheckpointStage, string> = {
  idle: 'The checkpoint is over; clients run freely.',
  'waiting-for-locks': 'toku_checkpoint first takes the checkpoint-safe lock, then the low-priority and normal multi-operation locks, so no client is half-way through a multi-step operation at begin.',
  begin: 'begin_checkpoint (§5): pin the cachefiles, log begin_checkpoint (not fsynced), one fassociate per file, one xstillopen per live transaction, then set every PAIR\'s checkpoint_pending bit and clone each header.',
  'pending-pairs': 'The begin locks are released: clients run again. The checkpoint thread now walks the pending list and writes every PAIR still pending (§6.1); a client that wants to change a pending PAIR must first get its image out (clone or write).',
  headers: 'Every pending PAIR is captured. Now, per dictionary, the log is fsynced up to begin (write-ahead rule), then the in-progress translation and the header are written to the slot not holding the newest header, and fsynced (§6.3).',
  'end-log': 'All headers are durable; logging end_checkpoint and fsyncing it is what makes this checkpoint complete for recovery.',
  rotate: 'end_checkpoint is durable: the in-progress translation becomes the checkpointed one, and blocks only the old checkpoint used are freed (§6.5).',
  trim: 'Log files whose records all precede this checkpoint\'s begin are no longer needed by recovery and may be deleted (§8).',
  status: 'The status counters are updated and the checkpoint-safe lock released.',
};

/** Narration of a cachetable event. */
export function narrateCachetable(e: CachetableEvent): Narration {
  switch (e.type) {
    case 'lock-taken':
      return { title: `${e.task} takes ${e.lock} (${e.mode})`, why: 'The pair list\'s locks are taken in the order of §3.2.' };
    case 'pending-set':
      return { title: `${pairName(e.cachefile, e.blocknum)} marked checkpoint_pending`, why: 'begin_checkpoint marks every PAIR of a participating cachefile, dirty or not (§10.1 T1).' };
    case 'pending-cleared': {
      const p = pairName(e.cachefile, e.blocknum);
      const why: Record<typeof e.by, string> = {
        client: e.dirty
          ? 'A client wants to write-pin a dirty pending PAIR: before it may change the value, the image as of begin must be taken (clone, or a write when the file cannot clone) (§10.1 T3/T4).'
          : 'A client write-pins a clean pending PAIR: the block on disk already is the checkpoint image, so the bit is just cleared (§10.1 T2).',
        checkpoint: e.dirty
          ? 'The checkpoint thread pops the PAIR off the pending list, takes its write lock and writes its image (or a clone of it) (§10.1 T7).'
          : 'The checkpoint thread pops a clean PAIR: nothing to write, the bit is cleared (§10.1 T7\').',
        evictor: 'The evictor took a pending PAIR: it captures and clears the bit, so the write it makes counts for the checkpoint (§10.1 T8/T9).',
        remove: 'The PAIR is being removed; its pending bit is captured and cleared with it (§10.1 T10).',
      };
      return { title: `${p}: checkpoint_pending cleared by the ${e.by} (${e.dirty ? 'dirty' : 'clean'})`, why: why[e.by] };
    }
    case 'pair-cloned':
      return {
        title: `${pairName(e.cachefile, e.blocknum)} cloned by the ${e.by} (${e.size} bytes)`,
        why: e.by === 'client'
          ? 'Clone-on-write: the client keeps its write pin and changes the value at once; the clone, frozen as of begin, is written for the checkpoint in the background under disk_nb_mutex.'
          : 'The checkpoint thread clones the PAIR and releases its write lock at once, so clients wait only for the copy, not for the write.',
      };
    case 'pair-written':
      return {
        title: `${pairName(e.cachefile, e.blocknum)} written${e.isClone ? ' (its clone)' : ''}, ${e.bytes} bytes, forCheckpoint=${e.forCheckpoint}`,
        why: e.forCheckpoint
          ? 'A checkpoint image: the block goes to a new place and the in-progress translation records it, so the translation the checkpoint will publish points at this image.'
          : 'A write that is not part of the checkpoint (eviction of a PAIR not pending): only the current translation moves.',
      };
    case 'pair-evicted':
      return { title: `${pairName(e.cachefile, e.blocknum)} evicted (was ${e.wasDirty ? 'dirty' : 'clean'}${e.wasPending ? ', pending' : ''})`, why: 'The evictor freed its memory; a later pin will read the block back from disk.' };
    case 'pair-removed':
      return { title: `${pairName(e.cachefile, e.blocknum)} removed${e.wasPending ? ' (was pending)' : ''}`, why: 'Its node is gone from the tree; its blocknum is freed in the current translation (and in the in-progress one if it was pending).' };
  }
}

/** Narration of a checkpointer event. */
export function narrateCheckpoint(e: CheckpointEvent): Narration {
  switch (e.type) {
    case 'global-lock': {
      const l = LOCK_TEXT[e.lock] ?? e.lock;
      const who = e.holder;
      const why = e.holder.startsWith('checkpoint (')
        ? (e.action === 'taken' ? 'The checkpoint takes its locks in the global order (§3.1) before begin_checkpoint.' : 'Released: begin is over (or the checkpoint ended), clients may go on.')
        : (e.action === 'taken' ? 'A commit holds the MO lock (read) while it logs xcommit and applies its writes, so a begin_checkpoint sees all of the commit or none of it.' : 'The commit is applied; the MO lock is released.');
      return { title: `${who} ${e.action === 'taken' ? 'takes' : 'releases'} the ${l} (${e.mode})`, why };
    }
    case 'stage':
      return { title: `checkpoint stage: ${e.stage}${e.footprint > 0 ? ` (footprint ${e.footprint})` : ''}`, why: STAGE_WHY[e.stage] };
    case 'cachefiles-pinned':
      return { title: `begin: ${e.count} cachefiles pinned for the checkpoint (for_checkpoint set)`, why: 'Only files open at begin take part; their for_checkpoint flag is set under the cachefile list lock (§5 step 2).' };
    case 'record-logged': {
      const why: Record<typeof e.record, string> = {
        begin_checkpoint: 'Its LSN is the checkpoint\'s LSN: everything logged before it will be in the checkpoint. It is not fsynced yet.',
        fassociate: 'Names a file open at begin, so recovery can reopen it from the turning point.',
        xstillopen: 'A transaction live at begin: recovery rebuilds it from its rollback node as of this checkpoint, then aborts it if it never committed.',
        xstillopenprepared: 'A prepared transaction at begin: recovery rebuilds it and keeps it prepared for the application to decide.',
        end_checkpoint: 'Names its begin LSN and the numbers of fassociate and xstillopen records; once fsynced, this checkpoint is the one recovery turns around at.',
      };
      return { title: `${e.record} logged at LSN ${e.lsn}`, why: why[e.record] };
    }
    case 'pending-bits-set':
      return { title: `begin: checkpoint_pending set on ${e.count} PAIRs`, why: 'Under the pending locks every PAIR of a participating file is marked, dirty or clean; from now on a pending PAIR\'s image as of begin must be captured before anyone changes it (§10.1 T1).' };
    case 'header-cloned':
      return { title: `begin: header of ${base(e.file)} cloned (checkpoint_lsn ${e.checkpointLsn}, ${e.dirty ? 'dirty' : 'clean'})`, why: 'The checkpoint header is the header as of begin; a clean one will not be rewritten. The current translation is copied to the in-progress one.' };
    case 'header-written':
      return { title: `${base(e.file)}: header written to slot ${e.slot} (checkpoint_count ${e.checkpointCount})`, why: `The slot is chosen by the count's parity, so the newest complete header in the other slot stays intact until this one is durable (ft-file-header.md §4).` };
    case 'checkpoint-skipped':
      return { title: `${base(e.file)}: header not rewritten (clean)`, why: 'Nothing in the file changed since the last checkpoint: its header on disk is still right.' };
    case 'translations-rotated':
      return { title: `${base(e.file)}: in-progress translation becomes the checkpointed one`, why: 'Blocks that only the previous checkpoint referenced are freed now, not earlier: until end_checkpoint was durable, recovery might still have needed them.' };
    case 'log-trimmed':
      return { title: `log trimmed to LSN ${e.trimLsn}${e.deleted.length > 0 ? `: deleted ${e.deleted.map(base).join(', ')}` : ' (no file to delete)'}`, why: 'Recovery starts at the last complete checkpoint\'s begin, so files that end before it are not needed any more.' };
    case 'hook':
      return { title: `crash hook ${e.name}`, why: 'A named point of the checkpoint where a test or this tour may pause or crash it (DESIGN.md principle 4).' };
    case 'checkpoint-done':
      return { title: `checkpoint done (begin LSN ${e.beginLsn})`, why: 'This checkpoint is complete: a crash from now on recovers from it.' };
    case 'checkpoint-failed':
      return { title: `checkpoint failed: ${e.error instanceof Error ? e.error.message.split('\n')[0] : String(e.error)}`, why: 'The machine stopped (or an I/O failed) inside the checkpoint: no end_checkpoint, so recovery will ignore it.' };
    case 'period-changed':
      return { title: `checkpoint period set to ${e.seconds} s`, why: 'The periodic checkpointer\'s interval changed.' };
  }
}

/** Narration of a logger event. */
export function narrateLog(e: LogEvent): Narration {
  switch (e.type) {
    case 'record-logged':
      return { title: `${e.recordType} logged at LSN ${e.lsn} (${e.bytes} bytes, in the log buffer)`, why: 'The logger gives each record the next LSN and appends it to its in-memory buffer.' };
    case 'buffer-written':
      return { title: `log buffer written to ${base(e.file)} at offset ${e.offset} (${e.bytes} bytes, up to LSN ${e.upToLsn})`, why: 'The buffered records reach the file; they are durable once fsynced (or at once on an O_DSYNC log).' };
    case 'fsync':
      return { title: `log durable up to LSN ${e.upToLsn}`, why: 'A commit is acknowledged only when its xcommit is durable (durability "sync"); the checkpoint forces the log before writing headers (write-ahead rule).' };
    case 'file-created':
      return { title: `log file ${base(e.file)} created`, why: 'A new log file starts with the tokulogg header.' };
    case 'rollover':
      return { title: `log rolled over from ${base(e.from)} to ${base(e.to)} (max LSN ${e.maxLsn})`, why: 'The file passed lg_max; later records go to a new file, and whole old files can be trimmed.' };
    case 'preallocation-reduced':
      return { title: `log preallocation reduced at ${base(e.file)}`, why: 'The disk had no room for preallocated zeros.' };
    case 'file-deleted':
      return { title: `log file ${base(e.file)} deleted (max LSN ${e.maxLsn} < ${e.trimLsn})`, why: 'Every record in it precedes the begin of a complete checkpoint.' };
  }
}
