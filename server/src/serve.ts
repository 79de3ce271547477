// `hypergen serve`: ServeConfig -> a listening server (keys, model resolved and converted if needed, engine, queue,
// image store); ready once the model loads (exit 2: device unavailable, 1: any other load failure); drains on stop.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { isIPv6, type AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { FileKeys, StaticKeys, type KeySource } from './auth/api-keys.js';
import type { ServeConfig } from './config.js';
import { createEngine, DeviceUnavailableError } from './engine/index.js';
import { createHandler } from './http/app.js';
import { trustCheck } from './http/trusted-proxies.js';
import { createLogger, SecretScrubber } from './logger.js';
import { createMetrics } from './metrics/registry.js';
import { resolveModel } from './pull/index.js';
import { GenerationQueue } from './serving/generation-queue.js';
import { ImageLinks } from './serving/image-links.js';
import { ImageStore } from './serving/image-store.js';
import { ServerState } from './serving/state.js';

export interface RunningServer {
  server: Server;
  port: number;
  /** Drains and stops; resolves when everything is closed. */
  shutdown(signal: string): Promise<void>;
}

/** Everything about the config that may be logged: the key itself never is. */
function loggableConfig(config: ServeConfig) {
  const { apiKey, ...rest } = config;
  return { ...rest, auth: apiKey ? 'key' : config.apiKeyFile ? 'key-file' : 'none' };
}

/** Signed url image names when this replica has peers (--peer-address and --peer-key-file); plain ones otherwise. */
function imageLinks(config: ServeConfig, port: () => number): ImageLinks {
  if (!config.peerAddress !== !config.peerKeyFile) throw new Error('--peer-address and --peer-key-file go together (url images across replicas need both).');
  if (!config.peerAddress || !config.peerKeyFile) return new ImageLinks(undefined, undefined);
  const key = readFileSync(config.peerKeyFile);
  if (key.length < 16) throw new Error(`--peer-key-file ${config.peerKeyFile} holds ${key.length} bytes; a peer key needs at least 16.`);
  const host = config.peerAddress;
  return new ImageLinks(() => (/^\[.*\]:\d+$|^[^:]+:\d+$/.test(host) ? host : `${isIPv6(host) ? `[${host}]` : host}:${port()}`), key);
}

export async function serve(config: ServeConfig): Promise<RunningServer> {
  const scrubber = new SecretScrubber();
  if (config.apiKey) scrubber.add(() => [config.apiKey!]);
  const logger = createLogger(config.logLevel, scrubber);
  logger.info({ config: loggableConfig(config) }, 'starting hypergen server');

  const keys: KeySource | undefined = config.apiKey
    ? new StaticKeys(config.apiKey)
    : config.apiKeyFile
      ? new FileKeys(config.apiKeyFile, logger)
      : undefined;
  if (keys) scrubber.add(() => keys.secrets());
  let port = config.port;
  const links = imageLinks(config, () => port);

  const metrics = createMetrics();
  const state = new ServerState();
  // A diffusers folder is converted once: fp16 graphs for an explicit GPU provider with --dtype fp16 (the operator's
  // GPU pods), fp32 otherwise, since onnxruntime's CPU kernels run fp32 fastest and `auto` may end on the CPU.
  const convertDtype = config.dtype === 'fp16' && (config.device === 'cuda' || config.device === 'webgpu') ? 'fp16' : 'fp32';
  const modelDir = await resolveModel(config.model, { cacheDir: config.cacheDir, logger, convertDtype, attention: config.attention });
  const engine = createEngine({ modelDir, device: config.device, dtype: config.dtype, vaeTiling: config.vaeTiling === 'on', logger, metrics });
  const queue = new GenerationQueue(
    engine,
    { maxQueueSize: config.maxQueueSize, maxBatchSize: config.maxBatchSize, batchWaitMs: config.batchWaitMs, timeoutS: config.requestTimeoutS },
    metrics,
    logger,
  );
  const store = new ImageStore(config.imageTtlS * 1000);

  const handler = createHandler({
    logger,
    metrics,
    keys,
    playground: config.playground,
    state,
    modelId: config.modelId,
    requestedDevice: config.device,
    queueSize: () => queue.size,
    engineInfo: () => engine.info,
    queue,
    store,
    links,
    defaults: { steps: config.defaultSteps, guidanceScale: config.defaultGuidanceScale, scheduler: config.defaultScheduler },
    trustedProxy: trustCheck(config.trustedProxies),
  });

  const server = createServer(handler).listen(config.port, config.host);
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
  logger.info({ host: config.host, port }, 'listening');

  const loadStarted = performance.now();
  engine.load().then(
    (info) => {
      const seconds = (performance.now() - loadStarted) / 1000;
      metrics.modelLoadSeconds.set(seconds);
      state.ready(info);
      logger.info({ model: config.modelId, family: info.family, device: info.device, deviceReason: info.deviceReason, seconds }, 'model loaded; ready');
    },
    (error: unknown) => {
      if (error instanceof DeviceUnavailableError) {
        // An explicit --device this machine cannot provide is a bad flag value: exit 2 with the reason.
        logger.fatal({ device: config.device, reason: error.message }, 'requested device not available');
        process.stderr.write(`hypergen: ${error.message}\n`);
        process.exit(2);
      }
      // A model that cannot load will not load on the next request either: exit so the pod shows the crash.
      logger.fatal({ err: error }, 'model failed to load');
      process.exit(1);
    },
  );

  // Drain: readiness 503 at once while the listener keeps answering (load balancers and endpoint controllers need
  // a moment to move traffic; answers say Connection: close), then the listener closes and admitted work finishes,
  // all within --shutdown-grace-s. SIGINT (a person at a terminal) skips the delay.
  let stopping: Promise<void> | undefined;
  const shutdown = (signal: string) =>
    (stopping ??= (async () => {
      const graceMs = config.shutdownGraceS * 1000;
      const delayMs = signal === 'SIGINT' ? 0 : Math.min(config.drainDelayS * 1000, graceMs);
      logger.info({ signal, inFlight: queue.size, drainDelayS: delayMs / 1000, graceS: config.shutdownGraceS }, 'draining');
      state.drain();
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      logger.info({ inFlight: queue.size }, 'drain delay over: no longer accepting connections');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await queue.drain(graceMs - delayMs);
      // Responses already computed still need to be written; then the remaining keep-alive sockets go.
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
      server.closeAllConnections();
      store.close();
      await engine.close();
      logger.info('stopped');
    })());

  return { server, port, shutdown };
}
