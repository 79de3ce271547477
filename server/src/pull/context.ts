// What a pull takes from its surroundings (Hub endpoint and token, logger, progress, retry policy, concurrency,
// offline, abort signal, free-space probe) and what it returns; tests pass their own context.
import { statfs } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { HubConfig } from './hub.js';
import type { Progress } from './progress.js';
import type { RetryPolicy } from './retry.js';

/** Everything a pull needs from its surroundings; tests pass their own. */
export interface PullContext {
  hub: HubConfig;
  logger: Logger;
  progress: Progress;
  retry: RetryPolicy;
  /** Files downloaded at the same time. */
  concurrency: number;
  /** HF_HUB_OFFLINE: use a complete cache or fail, never touch the network. */
  offline: boolean;
  signal?: AbortSignal;
  /** Bytes free to an unprivileged writer on dir's file system. */
  freeBytes: (dir: string) => Promise<number>;
}

export interface PullResult {
  dir: string;
  /** The commit for hf://, absent for archives. */
  commit?: string;
  /** False when a complete cache was used. */
  downloaded: boolean;
  /** Diffusers repositories: whether this pull converted (false: the conversion in dir was current). */
  converted?: boolean;
}

export async function statfsFreeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}
