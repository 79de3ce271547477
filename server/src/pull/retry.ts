// Retries for the pull: which failures are transient (5xx/429, dropped connections; never 4xx or local disk errors)
// and withRetries, exponential backoff with jitter under a RetryPolicy, stopping on abort.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { HttpStatusError, PullError, isRetryableStatus } from './errors.js';

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 500, maxDelayMs: 15_000 };

/** Local file system failures: another try would fail the same way. */
const LOCAL_FAILURES = new Set(['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR']);

/** Transient failures: 5xx/429, dropped connections, short transfers. Never 4xx, never a local disk error. */
export function isRetryable(error: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return false;
  if (error instanceof HttpStatusError) return isRetryableStatus(error.status);
  if (error instanceof PullError) return false;
  return !LOCAL_FAILURES.has((error as NodeJS.ErrnoException).code ?? '');
}

/** Runs fn until it succeeds, with exponential backoff and jitter between tries. */
export async function withRetries<T>(
  what: string,
  policy: RetryPolicy,
  logger: Logger,
  signal: AbortSignal | undefined,
  fn: (attempt: number) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= policy.attempts || !isRetryable(error, signal)) throw error;
      const delayMs = Math.round(Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2));
      logger.warn({ what, attempt, of: policy.attempts, delayMs, err: describeError(error) }, 'transient failure; retrying');
      await sleep(delayMs, undefined, { signal });
    }
  }
}

/** fetch's TypeError('fetch failed') hides the socket error in its cause. */
export function describeError(error: unknown): string {
  const err = error as Error & { cause?: Error & { code?: string } };
  const cause = err.cause ? `: ${err.cause.code ?? err.cause.message}` : '';
  return `${err.message}${cause}`;
}
