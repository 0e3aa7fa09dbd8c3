/**
 * `-p`: a progress line on stderr. On a terminal it redraws one line (at most five times a
 * second); forced onto something else (--progress=force) it prints a line every 2 seconds.
 * It shows bytes done, the total when known, the rate over the last few seconds and, with
 * a total, the time left.
 */
import { formatBytes } from '../node/human-size.js';

interface Sample {
  at: number;
  done: number;
}

const WINDOW_MS = 5000;

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** The progress line for `done` of `total` bytes at `rate` bytes a second. */
export function progressLine(done: number, total: number | undefined, rate: number): string {
  const parts: string[] = [];
  if (total !== undefined && total > 0) {
    parts.push(`${((100 * Math.min(done, total)) / total).toFixed(1).padStart(5)}%`, `${formatBytes(done)} of ${formatBytes(total)}`);
  } else {
    parts.push(formatBytes(done));
  }
  parts.push(`${formatBytes(rate)}/s`);
  if (total !== undefined && rate > 0 && done < total) parts.push(`${formatDuration((total - done) / rate)} left`);
  return parts.join(', ');
}

export class ProgressMeter {
  private readonly samples: Sample[] = [];
  private done = 0;
  private total: number | undefined;
  private lastDraw = -Infinity;
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly terminal: boolean,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** A total to use while the stream itself does not know one (a raw pipe's Content-Length). */
  fallbackTotal: number | undefined;

  update(done: number, total: number | undefined): void {
    this.done = Math.max(this.done, done);
    this.total = total ?? this.fallbackTotal;
    const at = this.now();
    this.samples.push({ at, done: this.done });
    while (this.samples.length > 2 && this.samples[0]!.at < at - WINDOW_MS) this.samples.shift();
    if (at - this.lastDraw >= (this.terminal ? 200 : 2000)) this.draw(at);
  }

  /** Draws the final state and ends the line. */
  finish(): void {
    if (!this.drawn) return;
    this.draw(this.now());
    if (this.terminal) this.out.write('\n');
  }

  private rate(at: number): number {
    const first = this.samples[0];
    if (!first || at - first.at < 100) return 0;
    return ((this.done - first.done) * 1000) / (at - first.at);
  }

  private draw(at: number): void {
    this.lastDraw = at;
    this.drawn = true;
    const line = progressLine(this.done, this.total, this.rate(at));
    this.out.write(this.terminal ? `\r\x1b[K${line}` : `${line}\n`);
  }
}
