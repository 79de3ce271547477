// GET /v1/models without Express's router: clients and load balancers poll it and its answer only changes when the
// model (re)loads, so the body is serialised once. Authentication, the 401 body, the access log, the request
// metrics and the draining header are the Express app's own (middleware/auth.ts, errors.ts, middleware/access-log.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpLogger } from 'pino-http';
import type { KeySource } from '../auth/api-keys.js';
import type { Metrics } from '../metrics/registry.js';
import type { ServerState } from '../serving/state.js';
import { UNAUTHORIZED_BODY } from './errors.js';
import { observeRequest } from './middleware/access-log.js';
import { authorized, closeWhenDraining } from './middleware/auth.js';
import { modelList } from './routes/models.js';

export interface FastPathDeps {
  modelId: string;
  state: ServerState;
  keys: KeySource | undefined;
  metrics: Metrics;
  /** The access log the Express app uses too. */
  accessLog: HttpLogger;
}

const ROUTE = '/v1/models';
const UNAUTHORIZED = Buffer.from(JSON.stringify(UNAUTHORIZED_BODY));

/** Answers GET /v1/models (with or without a query) and returns true; returns false for any other request. */
export function modelsFastPath(deps: FastPathDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  let cached: { created: number; body: Buffer } | undefined;
  const body = () => {
    if (cached?.created !== deps.state.loadedAt) {
      const created = deps.state.loadedAt;
      cached = { created, body: Buffer.from(JSON.stringify(modelList(deps.modelId, created))) };
    }
    return cached.body;
  };

  return (req, res) => {
    const url = req.url ?? '';
    if (req.method !== 'GET' || !(url === ROUTE || url.startsWith(`${ROUTE}?`))) return false;
    const started = performance.now();
    deps.accessLog(req, res);
    closeWhenDraining(deps.state, res);
    const allowed = authorized(deps.keys, req.headers.authorization);
    const payload = allowed ? body() : UNAUTHORIZED;
    res.writeHead(allowed ? 200 : 401, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': payload.length });
    res.end(payload);
    observeRequest(deps.metrics, 'GET', ROUTE, res.statusCode, (performance.now() - started) / 1000);
    return true;
  };
}
