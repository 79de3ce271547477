// The pull's error types (PullError, HttpStatusError) and the tests on failures: which statuses are worth another
// try, which errors mean the disk is full.
/** A pull that cannot succeed; the message is one line meant for the operator and never holds a token. */
export class PullError extends Error {
  override readonly name = 'PullError';
}

/** An HTTP answer that retrying will not change (4xx) or that kept failing (5xx, network). */
export class HttpStatusError extends PullError {
  constructor(
    message: string,
    readonly status: number,
    /** The Hub's X-Error-Code header (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo, ...). */
    readonly errorCode?: string,
  ) {
    super(message);
  }
}

/** Statuses worth another try: server errors, rate limiting, timeouts. 401/403/404 never are. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/** ENOSPC / EDQUOT from any write. */
export function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
