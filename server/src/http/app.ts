import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import type { RequestListener } from 'node:http';
import { pinoHttp } from 'pino-http';
import type { Logger } from 'pino';
import type { KeySource } from '../auth/api-keys.js';
import type { Metrics } from '../metrics/registry.js';
import { ApiError, ClientDisconnectedError, sendApiError, sendInternalError } from './errors.js';
import { requireApiKey } from './middleware/auth.js';
import { MAX_BODY_BYTES } from './middleware/json-body.js';
import { modelsFastPath } from './models-fast-path.js';
import { requestId } from './middleware/request-id.js';
import { healthRouter, type HealthDeps } from './routes/health.js';
import { imageFilesRouter, imagesRouter, type ImagesDeps } from './routes/images.js';
import { metricsRouter } from './routes/metrics.js';
import { modelsRouter } from './routes/models.js';
import { playgroundRouter } from './routes/playground.js';

export { MAX_BODY_BYTES };

export interface AppDeps extends HealthDeps, ImagesDeps {
  logger: Logger;
  metrics: Metrics;
  /** Absent: no authentication. */
  keys: KeySource | undefined;
  /** Serve the playground page at GET / (--no-playground turns it off). */
  playground: boolean;
}

/** Labels latency and counts by route pattern (not raw path), so metric cardinality stays bounded. */
function httpMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const stop = metrics.httpDuration.startTimer();
    res.on('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      stop({ method: req.method, route });
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
}

const errorHandler =
  (logger: Logger): ErrorRequestHandler =>
  (error, req, res, _next) => {
    // A client that went away (mid-body or while its images were made) is routine: info, a reason, no stack.
    if (error instanceof ClientDisconnectedError || (error as { type?: string }).type === 'request.aborted' || req.socket.destroyed) {
      (req.log ?? logger).info({ reason: 'client_disconnect' }, 'client disconnected before the response');
      res.destroy();
      return;
    }
    if (res.headersSent) {
      req.log.error({ err: error }, 'error after response started');
      res.destroy();
      return;
    }
    if (error instanceof ApiError) return sendApiError(res, error);
    // body-parser errors carry an HTTP status and a type.
    const status = (error as { status?: number }).status;
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large') {
      return sendApiError(res, new ApiError(413, `The request body exceeds ${MAX_BODY_BYTES} bytes.`, 'invalid_request_error', null, 'request_too_large'));
    }
    if (type === 'entity.parse.failed') {
      return sendApiError(res, new ApiError(400, 'The request body is not valid JSON.', 'invalid_request_error', null, 'invalid_json'));
    }
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendApiError(res, new ApiError(status, (error as Error).message || 'Bad request.', 'invalid_request_error', null, type ?? null));
    }
    (req.log ?? logger).error({ err: error }, 'unhandled error');
    sendInternalError(res);
  };

/** The server's request handler: the /v1/models fast path, then the Express app. */
export function createHandler(deps: AppDeps): RequestListener {
  const fastPath = modelsFastPath(deps);
  const app = createApp(deps);
  return (req, res) => {
    if (!fastPath(req, res)) app(req, res);
  };
}

function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: requestId,
      // A response that never finished is a client that went away ("request aborted"): info with its reason.
      customLogLevel: (_req, res, err) => (!res.writableFinished ? 'info' : err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
      customSuccessObject: (_req, res, value: object) => (res.writableFinished ? value : { ...value, reason: 'client_disconnect' }),
      autoLogging: { ignore: (req) => req.url === '/livez' || req.url === '/readyz' || req.url === '/metrics' },
    }),
  );
  app.use(httpMetrics(deps.metrics));
  app.use((req, res, next) => {
    // While draining, answers close their connection so clients move to another replica.
    if (deps.state.phase === 'draining') res.setHeader('Connection', 'close');
    next();
  });

  app.use(healthRouter(deps));
  app.use(metricsRouter(deps.metrics.registry));

  app.use(imageFilesRouter(deps.store, deps.links));
  if (deps.playground) app.use(playgroundRouter({ ...deps, authRequired: deps.keys !== undefined }));

  if (deps.keys) app.use('/v1', requireApiKey(deps.keys));
  app.use(modelsRouter({ modelId: deps.modelId, created: () => deps.state.loadedAt }));
  app.use(imagesRouter(deps));

  app.use((req, _res, next) => {
    next(new ApiError(404, `Unknown route: ${req.method} ${req.path.slice(0, 200)}`, 'invalid_request_error', null, 'unknown_url'));
  });
  app.use(errorHandler(deps.logger));
  return app;
}
