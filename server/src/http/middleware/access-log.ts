// The one access log and request metrics of every HTTP answer, Express routes and the /v1/models fast path alike:
// a pino-http line (request id, method, url, status, time; keys scrubbed by the logger) and the Prometheus request
// counter and latency histogram labelled by route pattern.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { pinoHttp, type HttpLogger } from 'pino-http';
import type { Metrics } from '../../metrics/registry.js';
import { requestId } from './request-id.js';

/** Probes and scrapes are not logged: they arrive every few seconds and say nothing about clients. */
const QUIET = new Set(['/livez', '/readyz', '/metrics']);

export function accessLogger(logger: Logger): HttpLogger<IncomingMessage, ServerResponse> {
  return pinoHttp({
    logger,
    genReqId: requestId,
    // A response that never finished is a client that went away ("request aborted"): info with its reason.
    customLogLevel: (_req, res, err) => (!res.writableFinished ? 'info' : err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    customSuccessObject: (_req, res, value: object) => (res.writableFinished ? value : { ...value, reason: 'client_disconnect' }),
    autoLogging: { ignore: (req) => QUIET.has(req.url ?? '') },
  });
}

/** Counts one answer and its latency under its route pattern (never the raw path: cardinality stays bounded). */
export function observeRequest(metrics: Metrics, method: string, route: string, status: number, seconds: number): void {
  metrics.httpDuration.observe({ method, route }, seconds);
  metrics.httpRequests.inc({ method, route, status: String(status) });
}

/** Express middleware: observeRequest for every answer, labelled with the matched route or 'unmatched'. */
export function requestMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.on('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      observeRequest(metrics, req.method, route, res.statusCode, (performance.now() - started) / 1000);
    });
    next();
  };
}
