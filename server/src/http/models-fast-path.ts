import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { KeySource } from '../auth/api-keys.js';
import type { Metrics } from '../metrics/registry.js';
import type { ServerState } from '../serving/state.js';
import { bearerToken } from './middleware/auth.js';
import { requestId } from './middleware/request-id.js';
import { modelList } from './routes/models.js';

export interface FastPathDeps {
  modelId: string;
  state: ServerState;
  keys: KeySource | undefined;
  metrics: Metrics;
  logger: Logger;
}

const ROUTE = '/v1/models';
const UNAUTHORIZED = Buffer.from(JSON.stringify({ detail: 'Invalid API key' }));

/**
 * GET /v1/models without Express: clients and load balancers poll it, and its answer only changes when the model
 * (re)loads, so the body is serialised once. Same contract, headers, metrics and access log as the Express
 * routes (server/test/http covers both paths through the same requests). Returns false for any other request.
 */
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
    const id = requestId(req, res);
    if (deps.state.phase === 'draining') res.setHeader('Connection', 'close');
    const token = bearerToken(req.headers.authorization);
    const allowed = !deps.keys || (token !== undefined && deps.keys.current().matches(token));
    const payload = allowed ? body() : UNAUTHORIZED;
    res.writeHead(allowed ? 200 : 401, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': payload.length });
    res.end(payload);

    const seconds = (performance.now() - started) / 1000;
    deps.metrics.httpDuration.observe({ method: 'GET', route: ROUTE }, seconds);
    deps.metrics.httpRequests.inc({ method: 'GET', route: ROUTE, status: String(res.statusCode) });
    const level = allowed ? 'info' : 'warn';
    if (deps.logger.isLevelEnabled(level)) {
      deps.logger[level]({ reqId: id, req: { method: 'GET', url }, res: { statusCode: res.statusCode }, responseTime: Math.round(seconds * 1000) }, 'request completed');
    }
    return true;
  };
}
