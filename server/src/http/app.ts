// AppDeps -> the server's request handler: the /v1/models fast path, then the Express routes (health, metrics, url
// images, playground, then /v1 behind the API key), with one access log and every error mapped onto an HTTP answer.
import express, { type ErrorRequestHandler } from 'express';
import type { RequestListener } from 'node:http';
import type { HttpLogger } from 'pino-http';
import type { Logger } from 'pino';
import type { KeySource } from '../auth/api-keys.js';
import type { Metrics } from '../metrics/registry.js';
import { ApiError, ClientDisconnectedError, sendApiError, sendInternalError } from './errors.js';
import { accessLogger, requestMetrics } from './middleware/access-log.js';
import { closeWhenDraining, requireApiKey } from './middleware/auth.js';
import { MAX_BODY_BYTES } from './middleware/json-body.js';
import { modelsFastPath } from './models-fast-path.js';
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

/** The server's request handler: the /v1/models fast path, then the Express app, sharing one access log. */
export function createHandler(deps: AppDeps): RequestListener {
  const accessLog = accessLogger(deps.logger);
  const fastPath = modelsFastPath({ ...deps, accessLog });
  const app = createApp(deps, accessLog);
  return (req, res) => {
    if (!fastPath(req, res)) app(req, res);
  };
}

function createApp(deps: AppDeps, accessLog: HttpLogger): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(accessLog);
  app.use(requestMetrics(deps.metrics));
  app.use((_req, res, next) => {
    closeWhenDraining(deps.state, res);
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
