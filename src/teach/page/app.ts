/**
 * The explorable page (bundled by tools/teach/bundle.ts into one HTML file). It runs the real
 * engine in the browser through the step recorder, and shows one step at a time: the
 * narration, the PAIRs, the locks, the translations, both header slots with their bytes, the
 * log as printed by the real printer next to its bytes, the invariants, and after a crash what
 * recovery chose and whether the acknowledged commits survived.
 *
 * Invariants:
 *  - The page never computes engine state itself: every panel renders a field of the step's
 *    snapshot (src/teach/snapshot.ts) or of the recorder's recovery outcome.
 *  - The URL hash always describes what is shown (scenario, seed, operations, faults, step,
 *    predict mode), so copying the address shares the run; loading it reproduces it.
 *  - Every state is written in words or symbols; colour only repeats them.
 *  - Bad input (a typed operation, a hand-edited URL) is one message in the error bar, never
 *    an exception on the console.
 */
import { formatOp, parseScript } from '../ops.js';
import { questionsFor, type Question } from '../predict.js';
import { recordTour, type TeachStep, type TeachTour, type UnsyncedFate } from '../recorder.js';
import { DEFAULT_OPTIONS, SCENARIOS, findScenario } from '../scenarios.js';
import { HEADER_FIELDS, readHeaderField } from '../header-layout.js';
import { CUSTOM, formatRunHash, parseRunHash, scenarioSpec, type RunLocation } from '../url.js';
import type { TeachState } from '../snapshot.js';
import { browser as w, type El, type Ev } from './dom.js';

const $ = (id: string): El => w.document.getElementById(id)!;
const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
const fromHex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));

let loc: RunLocation;
let tour: TeachTour;
let questions: Question[] = [];
const answered = new Set<number>();
let playTimer: number | undefined;
let loading = false;

function layout(): void {
  $('app').innerHTML = `
<header>
  <h1>tokusim teach: the sharp checkpoint</h1>
  <label>scenario <select id="scenario" data-testid="scenario">${SCENARIOS.map((s) => `<option value="${s.name}">${esc(s.title)}</option>`).join('')}<option value="custom">your own operations (default settings)</option></select></label>
  <label>seed <input id="seed" type="number" min="0" step="1" style="width:6em" data-testid="seed"></label>
  <label><input id="predict-mode" type="checkbox" data-testid="predict-mode"> predict mode</label>
  <label>crash leaves unsynced writes <select id="unsynced" data-testid="unsynced"><option value="drop">dropped</option><option value="keep">kept</option><option value="torn">torn or dropped (seeded)</option></select></label>
  <label>bit flip after a crash <select id="flip" data-testid="flip"><option value="">none</option></select></label>
  <button id="clear-faults" type="button">clear faults</button>
  <button id="copy" type="button" title="copy the address of this exact run">copy link</button>
</header>
<div id="error" role="alert" data-testid="error"></div>
<div id="timeline" role="toolbar" aria-label="timeline">
  <button id="first" type="button" aria-label="first step (Home)">first</button>
  <button id="back" type="button" aria-label="back one step (left arrow or b)">◀ back</button>
  <button id="next" type="button" aria-label="next step (right arrow or n)">next ▶</button>
  <button id="stage" type="button" aria-label="jump to the next stage (s)">next stage »</button>
  <button id="play" type="button" aria-pressed="false" aria-label="play (p)">play</button>
  <label>speed <select id="speed"><option value="1">1 step/s</option><option value="3" selected>3 steps/s</option><option value="10">10 steps/s</option><option value="30">30 steps/s</option></select></label>
  <input id="scrub" type="range" min="0" max="0" value="0" aria-label="scrub through the steps" data-testid="scrub">
  <span id="pos" aria-live="polite" data-testid="pos"></span>
  <button id="crash" type="button" aria-label="crash the machine at this step (c)" data-testid="crash-here">crash here</button>
</div>
<div id="narration" data-testid="narration" aria-live="polite"></div>
<main>
  <section aria-labelledby="h-pairs"><h2 id="h-pairs">PAIRs</h2><div id="pairs" data-testid="pairs"></div></section>
  <section aria-labelledby="h-locks"><h2 id="h-locks">Locks: holders and waiters</h2><div id="locks" data-testid="locks"></div></section>
  <section aria-labelledby="h-btt"><h2 id="h-btt">Block translation tables and free space</h2><div id="btt" data-testid="btt"></div></section>
  <section aria-labelledby="h-headers"><h2 id="h-headers">Header slots on disk</h2><div id="headers" data-testid="headers"></div></section>
  <section aria-labelledby="h-log"><h2 id="h-log">Log (printed by the real printer, with its bytes)</h2><div id="log" data-testid="log"></div></section>
  <section aria-labelledby="h-inv"><h2 id="h-inv">Invariants, checked at every step</h2><div id="invariants" data-testid="invariants"></div></section>
  <section aria-labelledby="h-rec"><h2 id="h-rec">Crash and recovery</h2><div id="recovery" data-testid="recovery"></div></section>
  <section aria-labelledby="h-ops"><h2 id="h-ops">Operations</h2>
    <p class="note">One per line: <span class="mono">put K V · del K · begin T · T put K V · T commit · T abort · T prepare · checkpoint · evict · crash · during HOOK OP</span> (hooks: afterBegin, afterPendingPairsWritten, afterHeadersBeforeEndCheckpoint, afterEndCheckpoint, duringTrim).</p>
    <textarea id="ops" aria-label="the operations of this run" data-testid="ops"></textarea>
    <div><button id="run-ops" type="button">run these operations from the start</button></div>
    <p class="note">Fork: keep everything up to the operation running at this step, then continue with:</p>
    <textarea id="fork-ops" aria-label="operations of the new future" data-testid="fork-ops" placeholder="e.g. put kiwi 9&#10;checkpoint"></textarea>
    <div><button id="fork" type="button" data-testid="fork">fork a new future here</button></div>
    <p class="note" id="scenario-look"></p>
  </section>
</main>
<div id="predict" role="dialog" aria-modal="false" aria-labelledby="predict-q" hidden data-testid="predict"></div>
<input id="link" class="sr" aria-hidden="true" tabindex="-1">
`;
}

// ------------------------------------------------------------------ panels

function pairsPanel(s: TeachState): string {
  const ct = s.cachetable;
  if (ct === null) return '<p>No process is running (the machine is down): nothing is in memory.</p>';
  const lock = (l: { readers: number; writer: boolean; waitingReaders: number; waitingWriters: number }): string =>
    `${l.writer ? 'W held' : l.readers > 0 ? `R×${l.readers}` : 'free'}${l.waitingWriters + l.waitingReaders > 0 ? `, waiting ${l.waitingWriters}W ${l.waitingReaders}R` : ''}`;
  const rows = ct.pairs.map((p) => `<tr class="${p.checkpointPending ? 'pending' : p.cloned ? 'cloned' : ''}" data-pair="${esc(`${base(p.cachefile)}:${p.blocknum}`)}">
    <td class="mono">${esc(base(p.cachefile))}:${esc(p.blocknum)}</td><td>${p.pin === '-' ? 'unpinned' : p.pin === 'W' ? 'W (write)' : `R×${p.pinCount}`}</td>
    <td>${p.dirty ? 'dirty' : 'clean'}</td><td>${p.checkpointPending ? '⚑ PENDING' : '–'}</td><td>${p.cloned ? 'CLONED' : '–'}</td>
    <td>${p.diskMutex.writer ? 'busy (I/O)' : 'idle'}</td><td>${lock(p.valueLock)}</td><td>${p.size}</td></tr>`).join('');
  return `<p class="note">pending list (head first): <span class="mono" data-testid="pending-list">${esc(ct.pendingList.map(base).join(', ') || 'empty')}</span> · clone writes running: ${ct.cloneJobs}</p>
  <table><thead><tr><th>PAIR</th><th>pin</th><th>dirty</th><th>checkpoint_pending</th><th>clone</th><th>disk_nb_mutex</th><th>value_rwlock</th><th>bytes</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function locksPanel(s: TeachState): string {
  if (s.globalLocks === null) return '<p>No process is running: no lock is held.</p>';
  const row = (name: string, l: { readers: number; writer: boolean; waitingReaders: number; waitingWriters: number }, holders: string): string =>
    `<tr data-lock="${esc(name)}"><td class="mono">${esc(name)}</td><td>${l.writer ? 'W held' : l.readers > 0 ? `R held ×${l.readers}` : 'free'}</td><td>${esc(holders)}</td><td>${l.waitingWriters} W, ${l.waitingReaders} R</td></tr>`;
  const cp = s.checkpoint;
  return `<p class="note">checkpoint stage: <b data-testid="stage">${esc(cp?.stage ?? 'none')}</b> · begin LSN ${esc(cp?.beginLsn ?? '-')} · last complete checkpoint began at ${esc(cp?.lastCompleteBeginLsn ?? '-')}</p>
  <table><thead><tr><th>lock</th><th>state</th><th>held by</th><th>waiting</th></tr></thead><tbody>
  ${s.globalLocks.map((l) => row(l.name, l, l.holders.join(', ') || '–')).join('')}
  ${(s.cachetable?.locks ?? []).map((l) => row(l.name, l, '–')).join('')}
  </tbody></table>
  <p class="note">transactions: <span data-testid="txns">${esc(s.txns.map((t) => `${t.name} (${t.state})`).join(', ') || 'none live')}</span>. Per-PAIR locks (value_rwlock, disk_nb_mutex) are in the PAIRs table.</p>`;
}

function bttPanel(s: TeachState): string {
  if (s.dictionaries.length === 0) return '<p>No dictionary is open (the machine is down). The header slots on disk are what recovery will read.</p>';
  return s.dictionaries.map((d) => {
    const t = d.translations;
    const blocknums = [...new Set([t.current, t.inprogress, t.checkpointed].flatMap((x) => x?.entries.map((e) => e.blocknum) ?? []))].sort((a, b) => a - b);
    const cell = (x: typeof t.current | null, b: number): string => {
      if (x === null) return '<td>–</td>';
      const e = x.entries.find((y) => y.blocknum === b);
      return `<td class="mono">${e === undefined ? 'free' : e.size === '0' ? 'allocated, not on disk' : `@${e.diskoff} +${e.size}`}</td>`;
    };
    const open = base(d.name).startsWith('d_') ? ' open' : '';
    return `<details${open} data-dict="${esc(base(d.name))}"><summary><b>${esc(base(d.name))}</b> · header ${d.headerDirty ? 'dirty' : 'clean'}${d.checkpointHeader ? ` · checkpoint header (lsn ${esc(d.checkpointHeader.checkpointLsn)}) ${d.checkpointHeader.dirty ? 'dirty' : 'clean'}` : ''} · root ${esc(d.header.rootBlocknum)}</summary>
    <table><thead><tr><th>blocknum</th><th>current</th><th>inprogress</th><th>checkpointed</th></tr></thead><tbody>
    ${blocknums.map((b) => `<tr><td class="mono">${b}${b === 1 ? ' (BTT)' : b === 2 ? ' (descriptor)' : ''}</td>${cell(t.current, b)}${cell(t.inprogress, b)}${cell(t.checkpointed, b)}</tr>`).join('')}
    </tbody></table>
    <p class="note">allocator: blocks ${esc(d.allocator.blocks.map((x) => `@${x.offset}+${x.size}`).join(' ') || 'none')} · free holes ${esc(d.allocator.holes.map((x) => `@${x.offset}+${x.size}`).join(' ') || 'none before the end')} · ${esc(d.allocator.bytesInUse)} bytes in use</p></details>`;
  }).join('');
}

function headersPanel(s: TeachState): string {
  return s.headerFiles.map((f) => {
    const slot = (x: (typeof f.slots)[0]): string => {
      const bytes = fromHex(x.hex);
      const fields = x.hex.length === 0 ? '<p class="note">no bytes on disk here</p>' : `<table class="mono"><thead><tr><th>@</th><th>field</th><th>bytes</th><th>value</th></tr></thead><tbody>${HEADER_FIELDS.map((fl) => `<tr><td>${fl.offset}</td><td>${fl.name}</td><td class="hex">${esc(x.hex.slice(fl.offset * 2, (fl.offset + fl.size) * 2).replace(/(..)/g, '$1 ').trim())}</td><td>${esc(readHeaderField(bytes, fl))}</td></tr>`).join('')}</tbody></table>`;
      return `<div class="${x.status === 'ok' || x.status === 'no-header' ? '' : 'bad'}" data-slot="${x.slot}"><b>slot ${x.slot}</b> (offset ${x.offset}): <span data-testid="slot-status">${esc(x.status)}</span>${x.status !== 'ok' && x.status !== 'no-header' ? ' <span class="tag">✗ unreadable</span>' : ''}${x.status === 'ok' ? ` · checkpoint_count <span data-testid="slot-count">${esc(x.checkpointCount)}</span> · checkpoint_lsn <span data-testid="slot-lsn">${esc(x.checkpointLsn)}</span>` : ''}${x.newest ? ' · <span class="tag">★ newest</span>' : ''} · ${x.durable ? 'durable' : '<span class="tag">not durable yet</span>'}
        <details><summary>bytes, field by field</summary>${fields}</details></div>`;
    };
    return `<div data-file="${esc(base(f.path))}"><h3 style="font-size:13px;margin:8px 0 2px">${esc(base(f.path))}</h3>${slot(f.slots[0])}${slot(f.slots[1])}</div>`;
  }).join('') || '<p>No dictionary file on disk yet.</p>';
}

function logRow(r: TeachState['log']['records'][number]): string {
  return `<tr class="${r.where}" data-lsn="${esc(r.lsn)}"><td class="mono">${esc(r.lsn)}</td><td>${r.where === 'durable' ? '✔ durable' : r.where === 'written' ? '… written, not synced' : '○ in buffer'}</td><td class="mono">${esc(r.text)}</td><td class="mono hex">${esc(r.hex)}</td></tr>`;
}

/** The log panel's heading and table; the rows are filled in by renderLogRows. */
function logPanel(s: TeachState): string {
  const l = s.log;
  return `<p class="note">last LSN ${esc(l.lastLsn ?? '-')} · written up to ${esc(l.writtenLsn ?? '-')} · durable up to ${esc(l.syncedLsn ?? '-')} · files: ${esc(l.files.map(base).join(', '))}</p>
  ${l.damaged.map((d) => `<p class="bad">✗ ${esc(base(d.file))} at offset ${d.offset}: ${esc(d.problem)}</p>`).join('')}
  <table><thead><tr><th>LSN</th><th>where</th><th>tokuft_logprint</th><th>bytes</th></tr></thead><tbody id="log-rows"></tbody></table>`;
}

/** The rows last put in the log table: only the rows that changed are replaced (most steps change one or two). */
let shownRows: string[] = [];

function renderLogRows(s: TeachState, fresh: boolean): void {
  const body = $('log-rows') as El & { children: ArrayLike<El & { outerHTML: string }>; insertAdjacentHTML(where: string, html: string): void; lastElementChild: { remove(): void } | null };
  const rows = s.log.records.map(logRow);
  if (fresh) shownRows = [];
  for (let i = 0; i < rows.length; i++) {
    if (shownRows[i] === rows[i]) continue;
    if (i < shownRows.length) body.children[i]!.outerHTML = rows[i]!;
    else body.insertAdjacentHTML('beforeend', rows[i]!);
  }
  for (let i = shownRows.length; i > rows.length; i--) body.lastElementChild?.remove();
  shownRows = rows;
}

function invariantsPanel(s: TeachState): string {
  return `<ul>${s.invariants.map((i) => `<li class="${i.ok ? '' : 'bad'}" data-invariant="${esc(i.id)}" data-ok="${i.ok}">${i.ok ? '✓ holds' : '✗ VIOLATED'} · <b>${esc(i.id)}</b> ${esc(i.text)}${i.detail !== undefined ? `: ${esc(i.detail)}` : ''}</li>`).join('')}</ul>`;
}

function recoveryPanel(step: TeachStep): string {
  const f = loc.spec.faults;
  const faults = `<p class="note">faults: ${f.crashAt !== undefined ? `crash at step ${f.crashAt}` : 'no crash injected'}; unsynced writes ${f.unsynced ?? 'drop'}${f.flip ? `; bit flip in ${esc(f.flip.file)} slot ${f.flip.slot}` : ''}</p>`;
  const r = tour.recoveries.filter((x) => x.epoch <= step.state.epoch);
  if (r.length === 0) return `${faults}<p>No crash yet at this step. Use “crash here” to stop the machine at this very event, or a <span class="mono">crash</span> operation.</p>`;
  const result = tour.steps.find((x) => x.kind === 'recovered' && x.state.epoch === r[r.length - 1]!.epoch);
  const done = result !== undefined && result.index <= step.index;
  return faults + r.map((o) => `<div data-epoch="${o.epoch}"><p><b>crash ${o.epoch}</b>: ${o.crash.writesKept} unsynced writes kept, ${o.crash.writesDropped} dropped, ${o.crash.writesTorn} torn.</p>
    ${done || o.epoch < step.state.epoch ? `<p>turning point: begin_checkpoint at LSN <b data-testid="turning">${esc(o.turningPointLsn ?? 'none')}</b></p>
    <table><thead><tr><th>file</th><th>slot opened</th><th>why</th></tr></thead><tbody>${o.headerChoices.map((h) => `<tr data-choice="${esc(base(h.file))}"><td class="mono">${esc(base(h.file))}</td><td>${h.slot === null ? 'none' : `slot ${h.slot}`}</td><td>${esc(h.why)}</td></tr>`).join('')}</tbody></table>
    <p>acknowledged before the crash: <span class="mono">${esc(JSON.stringify(o.committedBefore))}</span><br>recovered: <span class="mono" data-testid="recovered">${esc(JSON.stringify(o.recovered))}</span><br>
    prepared after recovery: ${esc(o.preparedAfter.join(', ') || 'none')} · aborted by recovery: ${esc(o.abortedByRecovery.join(', ') || 'none')}</p>
    <p class="${o.verdict === 'ok' ? 'ok' : 'bad'}" data-testid="verdict">${o.verdict === 'ok' ? '✓' : '✗'} ${esc(o.verdict.toUpperCase())}: ${esc(o.detail)}</p>` : '<p class="note">recovery is running: step on to see which header slots it opens and what survives.</p>'}</div>`).join('');
}

// ------------------------------------------------------------------ rendering

/** The HTML last put in each panel: a panel is rebuilt only when its content changed, which keeps stepping fast. */
const shownHtml = new Map<string, string>();

/** Put html in element id unless it is there already; true when it was replaced. */
function setHtml(id: string, html: string): boolean {
  if (shownHtml.get(id) === html) return false;
  shownHtml.set(id, html);
  $(id).innerHTML = html;
  return true;
}

function showError(msg: string): void {
  $('error').textContent = msg;
}

function render(): void {
  const step = tour.steps[loc.at]!;
  const s = step.state;
  $('pos').textContent = `step ${loc.at} of ${tour.steps.length - 1}`;
  $('pos').dataset['step'] = String(loc.at);
  const scrub = $('scrub');
  scrub.max = String(tour.steps.length - 1);
  scrub.value = String(loc.at);
  const op = step.opIndex >= 0 ? loc.spec.ops[step.opIndex] : undefined;
  setHtml('narration', `<div class="title" data-testid="title">${esc(step.narration.title)}</div><div class="why">${esc(step.narration.why)}</div>
    <div class="meta">source: ${esc(step.source)} · event: <span class="mono" data-testid="kind">${esc(step.kind)}</span> · operation: <span class="mono">${esc(op !== undefined ? `${step.opIndex + 1}. ${formatOp(op)}` : 'setup')}</span> · phase: ${esc(s.phase)}${tour.stopped !== null && loc.at === tour.steps.length - 1 ? ` · <b>run stopped: ${esc(tour.stopped)}</b>` : ''}</div>`);
  setHtml('pairs', pairsPanel(s));
  setHtml('locks', locksPanel(s));
  setHtml('btt', bttPanel(s));
  setHtml('headers', headersPanel(s));
  const freshLog = setHtml('log', logPanel(s));
  renderLogRows(s, freshLog);
  setHtml('invariants', invariantsPanel(s));
  setHtml('recovery', recoveryPanel(step));
  $('crash').disabled = s.phase !== 'running';
  const flip = $('flip');
  const want = loc.spec.faults.flip ? `${loc.spec.faults.flip.file}:${loc.spec.faults.flip.slot}` : '';
  const files = [...new Set([...s.headerFiles.map((f) => base(f.path)), ...(loc.spec.faults.flip ? [loc.spec.faults.flip.file] : [])])];
  setHtml('flip', `<option value="">none</option>${files.flatMap((f) => [0, 1].map((sl) => `<option value="${esc(`${f}:${sl}`)}">${esc(f)} slot ${sl}</option>`)).join('')}`);
  flip.value = want;
  const hash = formatRunHash(loc);
  if (w.location.hash.slice(1) !== hash) w.history.replaceState(null, '', `#${hash}`);
  w.document.body.dataset['ready'] = '1';
}

function syncControls(): void {
  const known = findScenario(loc.spec.scenario) !== undefined;
  $('scenario').value = known ? loc.spec.scenario : 'custom';
  $('seed').value = String(loc.spec.seed);
  $('predict-mode').checked = loc.predict;
  $('unsynced').value = loc.spec.faults.unsynced ?? 'drop';
  $('ops').value = loc.spec.ops.map(formatOp).join('\n');
  $('scenario-look').textContent = known ? `What to look at: ${findScenario(loc.spec.scenario)!.look}.` : '';
}

async function load(next: RunLocation): Promise<void> {
  stop();
  loading = true;
  w.document.body.dataset['ready'] = '0';
  showError('');
  try {
    const t = await recordTour(next.spec);
    loc = { ...next, at: Math.min(Math.max(0, next.at), t.steps.length - 1) };
    tour = t;
    questions = questionsFor(t);
    answered.clear();
    syncControls();
    hidePredict();
    render();
  } catch (err) {
    showError(err instanceof Error ? err.message : String(err));
    w.document.body.dataset['ready'] = '1';
  } finally {
    loading = false;
  }
}

// ------------------------------------------------------------------ predict mode

function hidePredict(): void {
  const d = $('predict');
  d.hidden = true;
  d.innerHTML = '';
}

/** In predict mode, a question at the current step must be answered before moving on; true when one is shown. */
function askFirst(): boolean {
  if (!loc.predict) return false;
  const qi = questions.findIndex((q, i) => q.at === loc.at && !answered.has(i));
  if (qi < 0) return false;
  const q = questions[qi]!;
  stop();
  const d = $('predict');
  d.innerHTML = `<p id="predict-q"><b>Predict:</b> ${esc(q.prompt)}</p><fieldset><legend class="sr">choices</legend>${q.choices.map((c, i) => `<div><label><input type="radio" name="pq" value="${i}"> ${esc(c)}</label></div>`).join('')}</fieldset>
    <button type="button" id="predict-answer" data-testid="predict-answer">answer</button> <button type="button" id="predict-skip">skip</button><div id="predict-result" aria-live="polite"></div>`;
  d.hidden = false;
  (d.querySelector('input') as El | null)?.focus();
  const finish = (text: string): void => {
    answered.add(qi);
    $('predict-result').innerHTML = `${text}<br><span class="note">${esc(q.explain)}</span><br><button type="button" id="predict-go" data-testid="predict-continue">continue</button>`;
    $('predict-go').focus();
    $('predict-go').onclick = () => {
      hidePredict();
      if (!askFirst()) go(loc.at + 1);
    };
  };
  $('predict-answer').onclick = () => {
    const picked = d.querySelector('input[name="pq"]:checked');
    if (picked === null) return;
    const right = Number(picked.value) === q.answer;
    finish(`<b data-testid="predict-verdict">${right ? '✓ right' : '✗ not quite'}</b>: the answer is “${esc(q.choices[q.answer])}”.`);
  };
  $('predict-skip').onclick = () => finish(`The answer is “${esc(q.choices[q.answer])}”.`);
  return true;
}

// ------------------------------------------------------------------ navigation

function go(i: number): void {
  if (loading) return;
  loc = { ...loc, at: Math.min(Math.max(0, i), tour.steps.length - 1) };
  render();
}

function forward(): void {
  if (askFirst()) return;
  go(loc.at + 1);
}

function nextStage(): void {
  if (askFirst()) return;
  const n = tour.steps.find((x) => x.index > loc.at && x.stageStart);
  go(n === undefined ? tour.steps.length - 1 : n.index);
}

function stop(): void {
  if (playTimer !== undefined) w.clearInterval(playTimer);
  playTimer = undefined;
  const b = w.document.getElementById('play');
  if (b !== null) {
    b.setAttribute('aria-pressed', 'false');
    b.textContent = 'play';
  }
}

function play(): void {
  if (playTimer !== undefined) return stop();
  const rate = Number($('speed').value);
  $('play').setAttribute('aria-pressed', 'true');
  $('play').textContent = 'pause';
  playTimer = w.setInterval(() => {
    if (loc.at >= tour.steps.length - 1) return stop();
    forward();
  }, 1000 / rate);
}

function crashHere(): void {
  if (tour.steps[loc.at]!.state.phase !== 'running') return;
  const at = loc.at;
  void load({ ...loc, spec: { ...loc.spec, faults: { ...loc.spec.faults, crashAt: at } }, at: at + 1 });
}

function fork(): void {
  let extra;
  try {
    extra = parseScript($('fork-ops').value);
  } catch (err) {
    showError(err instanceof Error ? err.message : String(err));
    return;
  }
  const opIndex = tour.steps[loc.at]!.opIndex;
  const ops = [...loc.spec.ops.slice(0, opIndex + 1), ...extra];
  const faults = { ...loc.spec.faults };
  if (faults.crashAt !== undefined && faults.crashAt > loc.at) delete faults.crashAt;
  // The scenario's name stays: its engine settings still apply, and the URL then carries the ops.
  void load({ ...loc, spec: { ...loc.spec, ops, faults } });
}

function wire(): void {
  $('first').onclick = () => go(0);
  $('back').onclick = () => go(loc.at - 1);
  $('next').onclick = forward;
  $('stage').onclick = nextStage;
  $('play').onclick = play;
  $('crash').onclick = crashHere;
  $('fork').onclick = fork;
  $('scrub').oninput = (e) => go(Number((e.target as El).value));
  $('scenario').onchange = (e) => {
    const name = (e.target as El).value;
    const spec = name === CUSTOM ? { scenario: CUSTOM, seed: loc.spec.seed, ops: loc.spec.ops, faults: {}, options: { ...DEFAULT_OPTIONS } } : scenarioSpec(name, loc.spec.seed);
    void load({ spec, at: 0, predict: loc.predict });
  };
  $('seed').onchange = (e) => {
    const v = Number((e.target as El).value);
    if (!Number.isInteger(v) || v < 0) return showError(`seed: expected a whole number >= 0, got ${(e.target as El).value}`);
    void load({ ...loc, spec: { ...loc.spec, seed: v } });
  };
  $('predict-mode').onchange = (e) => {
    loc = { ...loc, predict: (e.target as El).checked };
    answered.clear();
    render();
  };
  $('unsynced').onchange = (e) => void load({ ...loc, spec: { ...loc.spec, faults: { ...loc.spec.faults, unsynced: (e.target as El).value as UnsyncedFate } } });
  $('flip').onchange = (e) => {
    const v = (e.target as El).value;
    const faults = { ...loc.spec.faults };
    if (v === '') delete faults.flip;
    else faults.flip = { file: v.slice(0, v.lastIndexOf(':')), slot: Number(v.slice(-1)) as 0 | 1 };
    void load({ ...loc, spec: { ...loc.spec, faults } });
  };
  $('clear-faults').onclick = () => void load({ ...loc, spec: { ...loc.spec, faults: {} } });
  $('run-ops').onclick = () => {
    try {
      const ops = parseScript($('ops').value);
      void load({ spec: { ...loc.spec, ops, faults: {} }, at: 0, predict: loc.predict });
    } catch (err) {
      showError(err instanceof Error ? err.message : String(err));
    }
  };
  $('copy').onclick = () => {
    const link = $('link');
    link.value = w.location.href;
    if (w.navigator.clipboard !== undefined) w.navigator.clipboard.writeText(w.location.href).catch(() => undefined);
    $('copy').textContent = 'link copied';
    w.setTimeout(() => ($('copy').textContent = 'copy link'), 1500);
  };
  w.document.addEventListener('keydown', (e: Ev) => {
    const t = e.target;
    // Keys typed into a field belong to the field (the scrubber excepted).
    if (t !== null && typeof t.closest === 'function' && t.closest('input, textarea, select') !== null && t.id !== 'scrub') return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const keys: Record<string, () => void> = {
      ArrowRight: forward, n: forward, ArrowLeft: () => go(loc.at - 1), b: () => go(loc.at - 1),
      s: nextStage, c: crashHere, p: play, Home: () => go(0), End: () => go(tour.steps.length - 1),
    };
    const f = keys[e.key];
    if (f === undefined || !$('predict').hidden) return;
    e.preventDefault();
    f();
  });
  w.addEventListener('hashchange', () => {
    if (w.location.hash.slice(1) === formatRunHash(loc)) return;
    try {
      void load(parseRunHash(w.location.hash));
    } catch (err) {
      showError(err instanceof Error ? err.message : String(err));
    }
  });
}

async function main(): Promise<void> {
  layout();
  wire();
  let first: RunLocation;
  try {
    first = parseRunHash(w.location.hash);
  } catch (err) {
    showError(`${err instanceof Error ? err.message : String(err)}; showing the first scenario instead`);
    first = { spec: scenarioSpec(SCENARIOS[0]!.name), at: 0, predict: false };
  }
  loc = first;
  await load(first);
}

void main();
