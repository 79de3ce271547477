// The gateway's domain errors and their one mapping to HTTP: OpenAI's error shape {"error":{message,type,param,code}},
// Retry-After on 429 (and on 503 when a retry makes sense); anything unexpected is a 500 with the detail only in the log.
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';

export abstract class GatewayError extends Error {
  abstract readonly status: number;
  abstract readonly type: string;
  readonly param: string | null = null;
  readonly code: string | null = null;
  readonly retryAfterS?: number;
}

export class InvalidApiKey extends GatewayError {
  readonly status = 401;
  readonly type = 'invalid_request_error';
  override readonly code = 'invalid_api_key';
  constructor() {
    super('Invalid API key');
  }
}

export class InvalidRequest extends GatewayError {
  readonly status = 400;
  readonly type = 'invalid_request_error';
  constructor(
    message: string,
    override readonly param: string | null = null,
    override readonly code: string | null = null,
  ) {
    super(message);
  }
}

export class ModelNotFound extends GatewayError {
  readonly status = 404;
  readonly type = 'invalid_request_error';
  override readonly param = 'model';
  override readonly code = 'model_not_found';
  constructor(model: string) {
    super(`The model '${model}' does not exist or you do not have access to it.`);
  }
}

export class RouteNotFound extends GatewayError {
  readonly status = 404;
  readonly type = 'invalid_request_error';
  override readonly code = 'not_found';
  constructor(method: string, path: string) {
    super(`No route for ${method} ${path}`);
  }
}

/** A url image that no pod has (expired, never made, or a name no pod signed). */
export class ImageNotFound extends GatewayError {
  readonly status = 404;
  readonly type = 'not_found_error';
  override readonly code = 'image_not_found';
  constructor() {
    super('This image does not exist or has expired.');
  }
}

export class BodyTooLarge extends GatewayError {
  readonly status = 413;
  readonly type = 'invalid_request_error';
  override readonly code = 'request_too_large';
  constructor(limit: number) {
    super(`Request body is larger than ${limit} bytes.`);
  }
}

/** Too many requests are already held for a model that has no ready pod. */
export class TooManyHeld extends GatewayError {
  readonly status = 429;
  readonly type = 'rate_limit_error';
  override readonly code = 'too_many_waiting';
  constructor(
    model: string,
    override readonly retryAfterS: number,
  ) {
    super(`The model '${model}' is starting and enough requests are already waiting for it; retry later.`);
  }
}

/** A model scaled to zero without autoscaling (nobody will bring it up), or no pod reachable right now. */
export class Unavailable extends GatewayError {
  readonly status = 503;
  readonly type = 'server_error';
  override readonly code = 'model_unavailable';
  constructor(
    message: string,
    override readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

/** A held request waited its whole hold timeout without a ready pod. */
export class HoldTimeout extends GatewayError {
  readonly status = 504;
  readonly type = 'timeout_error';
  override readonly code = 'model_start_timeout';
  constructor(model: string, timeoutS: number) {
    super(`The model '${model}' did not become ready within ${timeoutS} s.`);
  }
}

export function errorBody(message: string, type: string, param: string | null = null, code: string | null = null): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

/** Writes err as the response (headers not yet sent: otherwise the connection is cut, as the body is partial). */
export function sendError(res: ServerResponse, err: unknown, log: Logger): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  let status = 500;
  let body: string;
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (err instanceof GatewayError) {
    status = err.status;
    body = errorBody(err.message, err.type, err.param, err.code);
    if (err.retryAfterS !== undefined) headers['Retry-After'] = String(Math.max(1, Math.ceil(err.retryAfterS)));
  } else {
    log.error({ err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'unexpected gateway error');
    body = errorBody('Internal server error', 'internal_error');
  }
  headers['Content-Length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(body);
}
