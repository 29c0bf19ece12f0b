/**
 * The one progress display of the tokusim CLI, for every long piece of work (recover,
 * crashtest including --exhaustive, synth-log, replay). Library code reports progress through
 * callbacks or events; the commands feed them to a ProgressDisplay, which draws:
 *  - on a terminal: a cli-progress bar on stderr, redrawn in place and erased when done;
 *  - otherwise (stderr is a file or a pipe): one plain line on stderr at most every
 *    `everyMs` (a few seconds), the first only once that much time has passed, so short work
 *    prints nothing and logs of long work stay short.
 *
 * Invariants:
 *  - Nothing is ever written to stdout: scripts parse stdout, progress is for people.
 *  - After stop() the display writes nothing more.
 */
import cliProgress from 'cli-progress';

/** Where progress goes: stderr in the CLI, a collector in tests. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  /** What is being done, e.g. `crashtest programs`. */
  title: string;
  /** The unit of done/total, e.g. `programs`, `MiB`, `LSN`. */
  unit: string;
  /** Default process.stderr. */
  stream?: ProgressStream;
  /** Draw a bar (default: whether the stream is a terminal). */
  tty?: boolean;
  /** Least time between two plain lines (default 5000 ms). */
  everyMs?: number;
  /** Clock for the plain-line spacing (default Date.now); tests pass a virtual one. */
  now?: () => number;
}

export interface ProgressDisplay {
  /** Report that `done` of `total` units are finished; `detail` is a short free text. */
  update(done: number, total: number, detail?: string): void;
  /** Erase the bar (on a terminal); write nothing after this. */
  stop(): void;
}

export const PLAIN_LINE_EVERY_MS = 5000;

/** Start a progress display for one piece of work. */
export function startProgress(opts: ProgressOptions): ProgressDisplay {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? stream.isTTY === true;
  return tty ? new BarDisplay(opts, stream) : new PlainDisplay(opts, stream);
}

class BarDisplay implements ProgressDisplay {
  private bar: cliProgress.SingleBar | undefined;
  private stopped = false;
  constructor(
    private readonly opts: ProgressOptions,
    private readonly stream: ProgressStream,
  ) {}
  update(done: number, total: number, detail = ''): void {
    if (this.stopped) return;
    if (this.bar === undefined) {
      this.bar = new cliProgress.SingleBar(
        {
          format: ` ${this.opts.title} {bar} {percentage}% {value}/{total} ${this.opts.unit} {detail}`,
          stream: this.stream as NodeJS.WritableStream,
          clearOnComplete: true,
          hideCursor: false,
          // Redraw on a terminal only; the plain display handles every other case.
          noTTYOutput: false,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, done, { detail });
      return;
    }
    this.bar.setTotal(total);
    this.bar.update(done, { detail });
  }
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.bar?.stop();
  }
}

class PlainDisplay implements ProgressDisplay {
  private readonly now: () => number;
  private last: number;
  private stopped = false;
  constructor(
    private readonly opts: ProgressOptions,
    private readonly stream: ProgressStream,
  ) {
    this.now = opts.now ?? Date.now;
    this.last = this.now();
  }
  update(done: number, total: number, detail?: string): void {
    if (this.stopped) return;
    const t = this.now();
    if (t - this.last < (this.opts.everyMs ?? PLAIN_LINE_EVERY_MS)) return;
    this.last = t;
    const pct = total > 0 ? ` (${Math.floor((100 * done) / total)}%)` : '';
    this.stream.write(`tokusim: ${this.opts.title}: ${done}/${total} ${this.opts.unit}${pct}${detail ? `, ${detail}` : ''}\n`);
  }
  stop(): void {
    this.stopped = true;
  }
}
