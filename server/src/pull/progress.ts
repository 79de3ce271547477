// Pull progress from byte counts: a bar redrawn on a terminal, periodic JSON progress lines otherwise; formatBytes.
import type { Logger } from 'pino';

/** Byte counts of a pull as it goes: a bar on a terminal, JSON progress lines (pino) otherwise. */
export class Progress {
  private readonly perFile = new Map<string, number>();
  private totalBytes = 0;
  private files = 0;
  private filesDone = 0;
  private started = 0;
  private lastReport = 0;

  constructor(
    private readonly logger: Logger,
    /** A terminal to draw on, or undefined for log lines. */
    private readonly tty: NodeJS.WriteStream | undefined,
    private readonly logEveryMs = 5000,
  ) {}

  start(files: number, totalBytes: number): void {
    this.files = files;
    this.totalBytes = totalBytes;
    this.started = this.lastReport = performance.now();
    this.logger.info({ files, bytes: totalBytes }, 'download started');
  }

  update(file: string, bytes: number): void {
    this.perFile.set(file, bytes);
    this.report(false);
  }

  fileDone(file: string, bytes: number): void {
    this.perFile.set(file, bytes);
    this.filesDone += 1;
    this.logger.info({ file, bytes }, 'file downloaded');
    this.report(true);
  }

  finish(): void {
    if (this.tty) this.tty.write('\n');
  }

  get bytesDone(): number {
    let sum = 0;
    for (const bytes of this.perFile.values()) sum += bytes;
    return sum;
  }

  private report(force: boolean): void {
    const now = performance.now();
    const interval = this.tty ? 100 : this.logEveryMs;
    if (!force && now - this.lastReport < interval) return;
    this.lastReport = now;
    const done = this.bytesDone;
    const fraction = this.totalBytes > 0 ? Math.min(1, done / this.totalBytes) : 1;
    const perSecond = done / Math.max(0.001, (now - this.started) / 1000);
    if (this.tty) {
      const width = 30;
      const filled = Math.round(fraction * width);
      const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
      this.tty.write(
        `\r[${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(done)}/${formatBytes(this.totalBytes)} ` +
          `${this.filesDone}/${this.files} files ${formatBytes(perSecond)}/s   `,
      );
    } else {
      this.logger.info(
        { bytesDone: done, bytesTotal: this.totalBytes, percent: Math.round(fraction * 1000) / 10, filesDone: this.filesDone, files: this.files, bytesPerSecond: Math.round(perSecond) },
        'download progress',
      );
    }
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
