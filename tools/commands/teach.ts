/**
 * `tokusim teach [SCENARIO]`: a narrated tour of the sharp checkpoint. Runs a scenario script
 * on the real engine over the simulated disk (src/teach/recorder.ts) and shows each trace
 * event as a step: what happened, why, and the state after it. Interactive on a terminal
 * (keys: n/space/enter next, b back, s next stage, c crash here, q quit); `--steps N` and
 * `--all` print the same narration non-interactively; `--html FILE` writes the explorable
 * page; `--list` lists the scenarios, name first on each line.
 */
import { writeFileSync } from 'node:fs';
import { emitKeypressEvents } from 'node:readline';
import pc from 'picocolors';
import type { CommandModule } from 'yargs';
import { TokusimError } from '../../src/base/errors.js';
import { parseScript } from '../../src/teach/ops.js';
import { recordTour, type RunSpec, type TeachTour, type UnsyncedFate } from '../../src/teach/recorder.js';
import { DEFAULT_OPTIONS, SCENARIOS } from '../../src/teach/scenarios.js';
import { CUSTOM, formatRunHash, scenarioSpec } from '../../src/teach/url.js';
import { EXIT, runCommand } from '../cli-support.js';
import { panel, PANELS, renderStep, stepHeader } from '../teach/render-text.js';

interface TeachArgs {
  scenario?: string;
  list: boolean;
  seed: number;
  steps?: number;
  all: boolean;
  script?: string;
  crashAt?: number;
  unsynced?: string;
  flip?: string;
  html?: string;
  force?: boolean;
  json: boolean;
}

/** The run an argument list asks for. */
export function specFromArgs(a: Pick<TeachArgs, 'scenario' | 'seed' | 'script' | 'crashAt' | 'unsynced' | 'flip'>): RunSpec {
  const spec = scenarioSpec(a.scenario ?? SCENARIOS[0]!.name, a.seed);
  if (a.script !== undefined) {
    spec.ops = parseScript(a.script);
    if (a.scenario === undefined) {
      spec.scenario = CUSTOM;
      spec.options = { ...DEFAULT_OPTIONS };
    }
  }
  if (a.crashAt !== undefined) spec.faults.crashAt = a.crashAt;
  if (a.unsynced !== undefined) {
    if (!['keep', 'drop', 'torn'].includes(a.unsynced)) throw new TokusimError('bad-argument', 'bad --unsynced', { expected: 'keep, drop or torn', actual: a.unsynced });
    spec.faults.unsynced = a.unsynced as UnsyncedFate;
  }
  if (a.flip !== undefined) {
    const m = /^([A-Za-z0-9_.]+):([01])$/.exec(a.flip);
    if (m === null) throw new TokusimError('bad-argument', 'bad --flip', { expected: 'FILE:SLOT, e.g. d_2.tokudb:1', actual: a.flip });
    spec.faults.flip = { file: m[1]!, slot: Number(m[2]) as 0 | 1 };
  }
  return spec;
}

/** `--list`: one scenario per line, name first. */
export function listScenarios(): string {
  const w = Math.max(...SCENARIOS.map((s) => s.name.length));
  return SCENARIOS.map((s) => `${s.name.padEnd(w)}  ${s.title}: ${s.summary}`).join('\n') + '\n';
}

/** The narration of the first n steps (all when n is undefined), each with the panels that changed. */
export function narrateTour(tour: TeachTour, n?: number): string {
  const steps = tour.steps.slice(0, n ?? tour.steps.length);
  const out = [pc.bold(`tokusim teach ${tour.spec.scenario} --seed ${tour.spec.seed}`) + pc.dim(`  (url: #${formatRunHash({ spec: tour.spec, at: 0, predict: false })})`), ''];
  steps.forEach((s, i) => out.push(renderStep(s, tour.steps.length, steps[i - 1]), ''));
  if (tour.stopped !== null && (n === undefined || n >= tour.steps.length)) out.push(pc.red(`the run stopped: ${tour.stopped}`));
  return out.join('\n');
}

async function interactive(first: RunSpec): Promise<void> {
  let spec = first;
  let tour = await recordTour(spec);
  let at = 0;
  const stdin = process.stdin;
  emitKeypressEvents(stdin);
  stdin.setRawMode(true);
  const draw = (note = ''): void => {
    const s = tour.steps[at]!;
    const lines = [pc.bold(`tokusim teach ${spec.scenario} --seed ${spec.seed}`), ...stepHeader(s, tour.steps.length), ''];
    for (const name of PANELS) lines.push(...panel(s.state, name));
    lines.push('', pc.dim('keys: n/space/enter next  b back  s next stage  c crash here  q quit') + (note !== '' ? `  ${note}` : ''));
    process.stdout.write(`\x1b[2J\x1b[H${lines.join('\n')}\n`);
  };
  draw();
  await new Promise<void>((resolve) => {
    const onKey = (_: string, key: { name?: string; ctrl?: boolean }): void => {
      void (async () => {
        const k = key.name ?? '';
        if (k === 'q' || (key.ctrl === true && k === 'c')) {
          stdin.setRawMode(false);
          stdin.off('keypress', onKey);
          stdin.pause();
          resolve();
          return;
        }
        if (k === 'n' || k === 'space' || k === 'return' || k === 'right') at = Math.min(at + 1, tour.steps.length - 1);
        else if (k === 'b' || k === 'left') at = Math.max(at - 1, 0);
        else if (k === 's') {
          const next = tour.steps.findIndex((x) => x.index > at && x.stageStart);
          at = next < 0 ? tour.steps.length - 1 : next;
        } else if (k === 'c') {
          if (tour.steps[at]!.state.phase !== 'running') {
            draw('(no process runs here to crash)');
            return;
          }
          spec = { ...spec, faults: { ...spec.faults, crashAt: at } };
          tour = await recordTour(spec);
          at = Math.min(at + 1, tour.steps.length - 1);
          draw(`(crashed at step ${at - 1}: replay with --crash-at ${at - 1})`);
          return;
        }
        draw();
      })();
    };
    stdin.on('keypress', onKey);
  });
}

export const teachCommandModule: CommandModule<object, TeachArgs> = {
  command: 'teach [scenario]',
  describe: 'a narrated tour of the sharp checkpoint on the simulated disk (terminal, or an explorable HTML page)',
  builder: (y) =>
    y
      .positional('scenario', { type: 'string', describe: 'scenario name (see --list); default basic' })
      .option('list', { type: 'boolean', default: false, describe: 'list the scenarios, name first on each line' })
      .option('seed', { type: 'number', default: 1, describe: 'seed of the simulated disk and of every crash' })
      .option('steps', { type: 'number', describe: 'print the first N steps and exit' })
      .option('all', { type: 'boolean', default: false, describe: 'print every step and exit' })
      .option('script', { type: 'string', describe: "your own operations, ';'-separated (put K V; begin T; T put K V; T commit; checkpoint; evict; crash; during HOOK OP)" })
      .option('crash-at', { type: 'number', describe: 'stop the machine at this step (inside whatever runs then), then recover' })
      .option('unsynced', { type: 'string', choices: ['keep', 'drop', 'torn'], describe: 'what a crash does to unsynced writes (default drop)' })
      .option('flip', { type: 'string', describe: 'after the first crash, corrupt a header slot: FILE:SLOT (e.g. d_2.tokudb:1)' })
      .option('html', { type: 'string', describe: 'write the explorable page (one self-contained HTML file) to FILE' })
      .option('force', { type: 'boolean', default: false, describe: 'with --html: replace FILE if it exists' })
      .option('json', { type: 'boolean', default: false, describe: 'with --steps/--all: print the steps as JSON lines (event, narration, state)' })
      .example('$0 teach --list', 'the scenarios')
      .example('$0 teach clone-on-write', 'step through a client write-pinning a pending PAIR (interactive on a terminal)')
      .example('$0 teach basic --all', 'print the whole narrated tour')
      .example('$0 teach crash-before-end --steps 40', 'print the first 40 steps')
      .example('$0 teach basic --crash-at 90 --unsynced torn --all', 'crash inside the checkpoint at step 90 and watch recovery')
      .example('$0 teach --html teach.html', 'write the explorable page; open it from file://') as never,
  handler: async (argv) => {
    await runCommand(async () => {
      if (argv.list) {
        process.stdout.write(listScenarios());
        return 0;
      }
      if (argv.html !== undefined) {
        const { buildTeachPage } = await import('../teach/bundle.js');
        const html = await buildTeachPage();
        // 'wx' creates the file and fails if something is there: a page never replaces a file
        // the user did not ask to replace.
        try {
          writeFileSync(argv.html, html, { flag: argv.force ? 'w' : 'wx' });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          throw new TokusimError('bad-argument', `${argv.html} exists; pass --force to replace it`, { file: argv.html, expected: 'a path where nothing exists yet (or --force)', actual: 'an existing file' });
        }
        process.stderr.write(`wrote ${argv.html} (${Buffer.byteLength(html)} bytes); open it in a browser (file:// works)\n`);
        return 0;
      }
      if (argv.steps !== undefined && (!Number.isInteger(argv.steps) || argv.steps < 0)) throw new TokusimError('bad-argument', 'bad --steps', { expected: 'a whole number >= 0', actual: String(argv.steps) });
      const spec = specFromArgs(argv);
      const batch = argv.all || argv.steps !== undefined || !process.stdin.isTTY || !process.stdout.isTTY;
      if (!batch) {
        await interactive(spec);
        return 0;
      }
      const tour = await recordTour(spec);
      if (argv.json) {
        for (const s of tour.steps.slice(0, argv.steps ?? tour.steps.length)) process.stdout.write(`${JSON.stringify(s)}\n`);
      } else {
        process.stdout.write(`${narrateTour(tour, argv.all ? undefined : argv.steps)}\n`);
      }
      return tour.recoveries.some((r) => r.verdict === 'lost') ? EXIT.VIOLATION : EXIT.OK;
    });
  },
};
