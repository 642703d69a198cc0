import { MultiBar, type SingleBar } from 'cli-progress';

function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '…';
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/**
 * One progress bar for the whole run (cli-progress, on stderr): what runs now (optimizer k of N),
 * the time so far and an ETA from the average rate so far, the work being weighted by its
 * measured cost. Lines said through it print above the bar in a terminal, plainly otherwise.
 */
export class Progress {
  private readonly bars: MultiBar;
  private readonly bar: SingleBar;
  private readonly began = performance.now();
  private done = 0;
  private label = '';

  constructor(private readonly total: number) {
    this.bars = new MultiBar({
      format: '{bar} {percentage}% | {elapsed} elapsed, ETA {remaining} | {label}',
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
      barsize: 24,
    });
    this.bar = this.bars.create(Math.max(1, Math.round(total)), 0, this.payload());
  }

  private payload() {
    const elapsed = performance.now() - this.began;
    const fraction = this.total > 0 ? this.done / this.total : 1;
    return {
      label: this.label,
      elapsed: formatDuration(elapsed),
      remaining: fraction > 0.01 ? formatDuration((elapsed / fraction) * (1 - fraction)) : '…',
    };
  }

  phase(label: string): void {
    this.label = label;
    this.bar.update(Math.round(this.done), this.payload());
  }

  advance(units: number): void {
    this.done += units;
    this.bar.update(Math.round(this.done), this.payload());
  }

  say(line: string): void {
    if (process.stderr.isTTY) this.bars.log(`${line}\n`);
    else console.log(line);
  }

  stop(): void {
    this.bar.update(Math.round(this.total), this.payload());
    this.bars.stop();
  }
}
