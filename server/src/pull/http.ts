// httpGet: GET following redirects itself, so the token reaches its own origin only; redact() for URLs in messages
// (query strings hidden); statusError() for a failed answer.
import { HttpStatusError, PullError } from './errors.js';
import { describeError } from './retry.js';

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Sent as 'Authorization: Bearer' to authOrigin only; a redirect to another origin (a CDN) goes without it. */
  token?: string;
  authOrigin?: string;
  signal?: AbortSignal;
  /** Sees every response, redirects included, before the next hop (the Hub's metadata lives on the 302). */
  inspect?: (response: Response, url: URL) => void;
}

const MAX_REDIRECTS = 5;

export const USER_AGENT = 'hypergen-pull/0.1 (+https://github.com/hypergen)';

/** GET that follows redirects itself so that the token never travels to another origin. */
export async function httpGet(url: string, options: RequestOptions): Promise<{ response: Response; url: URL }> {
  let current = new URL(url);
  for (let hop = 0; ; hop += 1) {
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity', ...options.headers };
    if (options.token && current.origin === options.authOrigin) headers.authorization = `Bearer ${options.token}`;
    let response: Response;
    try {
      response = await fetch(current, { headers, redirect: 'manual', signal: options.signal });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw Object.assign(new Error(`GET ${redact(current)} failed: ${describeError(error)}`), { cause: error });
    }
    options.inspect?.(response, current);
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) return { response, url: current };
    await response.body?.cancel();
    if (hop >= MAX_REDIRECTS) throw new PullError(`GET ${redact(url)}: more than ${MAX_REDIRECTS} redirects`);
    current = new URL(location, current);
  }
}

/** A URL fit for messages: signed CDN query strings are credentials too. */
export function redact(url: URL | string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
}

export async function statusError(response: Response, message: string): Promise<HttpStatusError> {
  await response.body?.cancel().catch(() => undefined);
  return new HttpStatusError(message, response.status, response.headers.get('x-error-code') ?? undefined);
}
