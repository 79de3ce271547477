// API keys: a key file's text -> keys; ApiKeys matches a candidate in constant time over SHA-256 digests; KeySource
// gives one flag key (StaticKeys) or a file re-read when it changes, keeping the last good keys (FileKeys).
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync, type Stats } from 'node:fs';
import type { Logger } from 'pino';

/** Parses a key file: one key per line, blank lines and `#` comments ignored. */
export function parseKeyFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/**
 * The accepted API keys. Keys are held as SHA-256 digests and compared with timingSafeEqual against every key
 * (no early exit), so neither the key's content nor its position leaks through timing.
 */
export class ApiKeys {
  private digests: Buffer[];

  constructor(keys: string[]) {
    this.digests = keys.map(digest);
  }

  get size(): number {
    return this.digests.length;
  }

  replace(keys: string[]): void {
    this.digests = keys.map(digest);
  }

  matches(candidate: string): boolean {
    const probe = digest(candidate);
    let found = false;
    for (const known of this.digests) found = timingSafeEqual(known, probe) || found;
    return found;
  }
}

export interface KeySource {
  /** The keys to check a request against, current as of this call. */
  current(): ApiKeys;
  /** Every key this process has accepted (rotated-out ones too), for the log scrubber; never for matching. */
  secrets(): Iterable<string>;
}

export class StaticKeys implements KeySource {
  private readonly keys: ApiKeys;
  constructor(private readonly key: string) {
    this.keys = new ApiKeys([key]);
  }
  current(): ApiKeys {
    return this.keys;
  }
  secrets(): Iterable<string> {
    return [this.key];
  }
}

const fingerprint = (s: Stats) => `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;

/**
 * Keys from a file that is re-read when it changes. Kubernetes updates a mounted Secret by swapping a symlink, so
 * the file is stat'ed (following links) on each check rather than watched; a stat costs microseconds next to a
 * request. A file that becomes unreadable keeps the last good keys, so a rotation glitch never opens the door.
 */
export class FileKeys implements KeySource {
  private readonly keys = new ApiKeys([]);
  private readonly everLoaded = new Set<string>();
  private seen = '';

  constructor(
    private readonly path: string,
    private readonly logger: Logger,
  ) {
    this.reload(statSync(path));
  }

  current(): ApiKeys {
    try {
      const stats = statSync(this.path);
      if (fingerprint(stats) !== this.seen) this.reload(stats);
    } catch (error) {
      this.logger.warn({ path: this.path, err: (error as Error).message }, 'API key file unreadable; keeping previous keys');
    }
    return this.keys;
  }

  secrets(): Iterable<string> {
    return this.everLoaded;
  }

  private reload(stats: Stats): void {
    const keys = parseKeyFile(readFileSync(this.path, 'utf8'));
    for (const key of keys) this.everLoaded.add(key);
    this.seen = fingerprint(stats);
    this.keys.replace(keys);
    if (keys.length === 0) this.logger.warn({ path: this.path }, 'API key file holds no keys; every request will be refused');
    else this.logger.info({ path: this.path, keys: keys.length }, 'API keys loaded');
  }
}
