// The request id: a client's X-Request-Id when it is safe to log, else a fresh UUID, echoed on the response.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

// A client's id is kept only when it cannot corrupt a log line or a header.
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** pino-http's genReqId: honours X-Request-Id when safe, else mints one, and echoes it on the response. */
export function requestId(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
  res.setHeader('X-Request-Id', id);
  return id;
}
