/**
 * The explorable page in a real browser (Debian's Chromium driven by playwright-core): it
 * opens from file://, steps through every scenario without a console error, shows exactly
 * the library's state (compared with a tour recorded here in Node from the same spec, not
 * recomputed), crashes inside a checkpoint and shows recovery, keeps the run in its URL, and
 * gives the same state after step n, back, forward. Screenshots of each scenario's key steps
 * go to test-artifacts/teach/ (not compared).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { recordTour, type TeachStep, type TeachTour } from '../../src/teach/recorder.js';
import { questionsFor } from '../../src/teach/predict.js';
import { SCENARIOS } from '../../src/teach/scenarios.js';
import { scenarioSpec } from '../../src/teach/url.js';
import { buildTeachPage } from '../../tools/teach/bundle.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ART = join(ROOT, 'test-artifacts', 'teach');
const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';
let browser: BrowserContext;
let profile: string;
let pageUrl: string;
const errors: string[] = [];
const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

async function open(hash: string): Promise<Page> {
  const page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  await page.goto(`${pageUrl}#${hash}`);
  await ready(page);
  return page;
}

/** Show another run in an open page by changing its address's hash (the page reloads the run itself). */
async function show(page: Page, hash: string): Promise<void> {
  const changed = await page.evaluate(`(() => {
    if (location.hash.slice(1) === ${JSON.stringify(hash)}) return false;
    document.body.dataset.ready = '0';
    location.hash = ${JSON.stringify(hash)};
    return true;
  })()`);
  if (changed === true) await ready(page);
}

// The functions below run inside the page; they are given as source text, since the tests
// compile without the DOM library.
async function ready(page: Page): Promise<void> {
  await page.waitForFunction(`document.body.dataset.ready === '1'`, undefined, { timeout: 60_000 });
}

async function at(page: Page): Promise<number> {
  return Number(await page.getAttribute('[data-testid=pos]', 'data-step'));
}

interface Shown {
  pairs: string[][];
  slots: string[][];
  lsns: string[];
  stage: string | null;
  invariants: string[];
}

/** What the page shows of a state, read from the DOM. */
async function shown(page: Page): Promise<Shown> {
  return page.evaluate(`(() => {
    const all = (root, sel) => [...root.querySelectorAll(sel)];
    const text = (el) => (el === null ? '' : el.textContent);
    return {
      pairs: all(document, '[data-testid=pairs] tr[data-pair]').map((tr) => [tr.dataset.pair, ...all(tr, 'td').slice(1, 6).map((td) => td.textContent.trim())]),
      slots: all(document, '[data-testid=headers] [data-file]').flatMap((f) => all(f, '[data-slot]').map((s) => [f.dataset.file, s.dataset.slot, text(s.querySelector('[data-testid=slot-status]')), text(s.querySelector('[data-testid=slot-count]')), text(s.querySelector('[data-testid=slot-lsn]'))])),
      lsns: all(document, '[data-testid=log] tr[data-lsn]').map((tr) => tr.dataset.lsn + ' ' + tr.querySelectorAll('td')[2].textContent),
      stage: document.querySelector('[data-testid=stage]') === null ? null : document.querySelector('[data-testid=stage]').textContent,
      invariants: all(document, '[data-invariant]').map((li) => li.dataset.invariant + ' ' + li.dataset.ok),
    };
  })()`);
}

/** The same, from the library's state recorded in Node. */
function expected(step: TeachStep): Shown {
  const s = step.state;
  return {
    pairs: (s.cachetable?.pairs ?? []).map((p) => [`${base(p.cachefile)}:${p.blocknum}`, p.pin === '-' ? 'unpinned' : p.pin === 'W' ? 'W (write)' : `R×${p.pinCount}`, p.dirty ? 'dirty' : 'clean', p.checkpointPending ? '⚑ PENDING' : '–', p.cloned ? 'CLONED' : '–', p.diskMutex.writer ? 'busy (I/O)' : 'idle']),
    slots: s.headerFiles.flatMap((f) => f.slots.map((sl) => [base(f.path), String(sl.slot), sl.status, sl.checkpointCount ?? '', sl.checkpointLsn ?? ''])),
    lsns: s.log.records.map((r) => `${r.lsn} ${r.text}`),
    stage: s.checkpoint?.stage ?? (s.globalLocks === null ? null : 'none'),
    invariants: s.invariants.map((i) => `${i.id} ${i.ok}`),
  };
}

async function goTo(page: Page, n: number): Promise<void> {
  await page.evaluate(`(() => {
    const r = document.querySelector('[data-testid=scrub]');
    r.value = '${n}';
    r.dispatchEvent(new Event('input'));
  })()`);
}

beforeAll(async () => {
  mkdirSync(ART, { recursive: true });
  const html = await buildTeachPage();
  const file = join(ROOT, 'test-artifacts', 'teach.html');
  writeFileSync(file, html);
  pageUrl = pathToFileURL(file).href;
  profile = mkdtempSync(join(tmpdir(), 'tokusim-chromium-'));
  // A fresh profile directory (--user-data-dir) per run: playwright passes it for a persistent context.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

beforeEach(() => {
  errors.length = 0;
});

afterAll(async () => {
  await browser?.close();
  if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
});

describe('teach: the page in Chromium', () => {
  it('Scenario: every scenario steps from first to last; the panels show the library state at its key steps; no console error', async () => {
    const tours = new Map(await Promise.all(SCENARIOS.map(async (sc) => [sc.name, await recordTour(scenarioSpec(sc.name))] as const)));
    const page = await open('s=basic&seed=1');
    for (const sc of SCENARIOS) {
      const tour: TeachTour = tours.get(sc.name)!;
      await show(page, `s=${sc.name}&seed=1`);
      expect(await page.textContent('[data-testid=pos]')).toBe(`step 0 of ${tour.steps.length - 1}`);
      // Step through every step with the keyboard's next key.
      await page.evaluate(`for (let i = 0; i < ${tour.steps.length - 1}; i++) document.body.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }))`);
      expect(await at(page)).toBe(tour.steps.length - 1);
      expect(await page.textContent('[data-testid=title]')).toBe(tour.steps.at(-1)!.narration.title);
      // Key steps: where a stage, crash or recovery starts, and where a PAIR is cloned (at most 10, spread out).
      const key = tour.steps.filter((s) => s.stageStart || s.kind === 'pair-cloned');
      const picked = key.filter((_, i) => i % Math.ceil(key.length / 8) === 0);
      for (const s of picked) {
        await goTo(page, s.index);
        expect(await shown(page), `${sc.name} step ${s.index}`).toEqual(expected(s));
      }
      for (const s of tour.steps.filter((x) => x.kind === 'pending-bits-set' || x.kind === 'recovered').slice(-1)) {
        await goTo(page, s.index);
        await page.screenshot({ path: join(ART, `${sc.name}-step${s.index}-${s.kind}.png`) });
      }
    }
    await page.close();
    expect(errors).toEqual([]);
  });

  it('Scenario: crash here, inside a checkpoint: the page shows the crash, recovery and the verdict the recorder computed', async () => {
    const tour = await recordTour(scenarioSpec('basic'));
    const n = tour.steps.findIndex((s) => s.kind === 'header-written');
    const page = await open(`s=basic&seed=1&at=${n}`);
    await page.keyboard.press('c');
    await ready(page);
    expect(await at(page)).toBe(n + 1);
    expect(await page.textContent('[data-testid=kind]')).toBe('crash');
    expect(new URL(page.url()).hash).toContain(`crash=${n}`);
    const crashed = await recordTour({ ...scenarioSpec('basic'), faults: { crashAt: n } });
    await page.keyboard.press('End');
    expect(await page.textContent('[data-testid=verdict]')).toContain(crashed.recoveries[0]!.verdict.toUpperCase());
    expect(await page.textContent('[data-testid=turning]')).toBe(crashed.recoveries[0]!.turningPointLsn);
    expect(await shown(page)).toEqual(expected(crashed.steps.at(-1)!));
    await page.screenshot({ path: join(ART, 'basic-crash-recovered.png'), fullPage: true });
    await page.close();
    expect(errors).toEqual([]);
  });

  it('Scenario: the URL reproduces the run, and step n, back, forward shows the same state', async () => {
    const page = await open('s=crash-before-end&seed=4&unsynced=torn&flip=d_2.tokudb:1');
    await page.keyboard.press('s');
    await page.keyboard.press('s');
    await page.keyboard.press('ArrowRight');
    const n = await at(page);
    const here = await page.innerHTML('main');
    await page.keyboard.press('ArrowLeft');
    expect(await at(page)).toBe(n - 1);
    await page.keyboard.press('ArrowRight');
    expect(await page.innerHTML('main')).toBe(here);
    const url = page.url();
    expect(new URL(url).hash).toContain(`at=${n}`);
    const again = await open(new URL(url).hash.slice(1));
    expect(await at(again)).toBe(n);
    expect(await again.innerHTML('main')).toBe(here);
    await page.close();
    await again.close();
    expect(errors).toEqual([]);
  });

  it('Scenario: predict mode pauses at a question and then shows the answer the run gives', async () => {
    const tour = await recordTour(scenarioSpec('basic'));
    const q = questionsFor(tour)[0]!;
    const page = await open(`s=basic&seed=1&predict=1&at=${q.at}`);
    expect(await page.isHidden('[data-testid=predict]')).toBe(true);
    await page.keyboard.press('ArrowRight');
    expect(await page.isVisible('[data-testid=predict]')).toBe(true);
    expect(await at(page)).toBe(q.at);
    expect(await page.textContent('[data-testid=predict]')).toContain(q.prompt);
    await page.check(`[data-testid=predict] input[type=radio] >> nth=${q.answer}`);
    await page.click('[data-testid=predict-answer]');
    expect(await page.textContent('[data-testid=predict-verdict]')).toBe('✓ right');
    expect(await page.textContent('[data-testid=predict]')).toContain(q.choices[q.answer]!);
    await page.click('[data-testid=predict-continue]');
    expect(await at(page)).toBe(q.at + 1);
    await page.close();
    expect(errors).toEqual([]);
  });

  it('Scenario: fork a new future at a past step: the prefix stays, the typed operations follow, the URL holds them', async () => {
    const tour = await recordTour(scenarioSpec('basic'));
    const n = tour.steps.findIndex((s) => s.kind === 'checkpoint' && s.source === 'op');
    const page = await open(`s=basic&seed=1&at=${n}`);
    const before = await shown(page);
    await page.fill('[data-testid=fork-ops]', 'put kiwi 9\ncrash');
    await page.click('[data-testid=fork]');
    await ready(page);
    expect(await at(page)).toBe(n);
    expect(await shown(page)).toEqual(before);
    const params = new URLSearchParams(new URL(page.url()).hash.slice(1));
    expect(params.get('s')).toBe('basic');
    expect(params.get('ops')).toBe('put apple 1;put banana 2;put cherry 3;checkpoint;put kiwi 9;crash');
    await page.keyboard.press('End');
    expect(JSON.parse((await page.textContent('[data-testid=recovered]'))!)).toEqual({ apple: '1', banana: '2', cherry: '3', kiwi: '9' });
    await page.close();
    expect(errors).toEqual([]);
  });
});
