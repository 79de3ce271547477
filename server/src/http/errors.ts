// The HTTP layer's errors and their bodies: ApiError in OpenAI's shape, the fixed 401 and 500 bodies, and the
// client-disconnect marker that is answered with nothing.
import type { Response } from 'express';

// OpenAI's error body: {"error": {"message", "type", "param", "code"}}. Two bodies are fixed by the product docs
// instead: 401 {"detail": "Invalid API key"} and the opaque 500.
export type ErrorType = 'invalid_request_error' | 'not_found_error' | 'server_error' | 'rate_limit_error' | 'internal_error';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ErrorType = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Extra response headers, e.g. Retry-After on 429. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The client closed its connection before the answer: nothing to send and nothing wrong with the server. */
export class ClientDisconnectedError extends Error {
  readonly reason = 'client_disconnect';
  constructor() {
    super('client disconnected');
    this.name = 'ClientDisconnectedError';
  }
}

export const invalidParam = (param: string, message: string, code: string | null = 'invalid_value') =>
  new ApiError(400, message, 'invalid_request_error', param, code);

export function sendApiError(res: Response, error: ApiError): void {
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  res.status(error.status).json({
    error: { message: error.message, type: error.type, param: error.param, code: error.code },
  });
}

/** The product docs' 401 body, the same for a missing key, a wrong one and another scheme. */
export const UNAUTHORIZED_BODY = Object.freeze({ detail: 'Invalid API key' });

export function sendUnauthorized(res: Response): void {
  res.status(401).json(UNAUTHORIZED_BODY);
}

export function sendInternalError(res: Response): void {
  res.status(500).json({ error: { message: 'Internal server error', type: 'internal_error' } });
}
