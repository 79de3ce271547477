import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { ApiKeys, type KeySource } from '../../src/auth/api-keys.js';
import { createHandler } from '../../src/http/app.js';
import { REDACTED_PATHS } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics/registry.js';
import { GenerationQueue } from '../../src/serving/generation-queue.js';
import { trustCheck } from '../../src/http/trusted-proxies.js';
import { ImageLinks } from '../../src/serving/image-links.js';
import { ImageStore } from '../../src/serving/image-store.js';
import { ServerState } from '../../src/serving/state.js';
import { ScriptedEngine } from './scripted-engine.js';

export interface AppServerOptions {
  keys?: string[];
  maxQueueSize?: number;
  maxBatchSize?: number;
  batchWaitMs?: number;
  modelId?: string;
  playground?: boolean;
  /** --trusted-proxies entries (default none). */
  trustedProxies?: string[];
  /** --image-ttl-s (default 60). */
  imageTtlS?: number;
}

/** The real Express app on 127.0.0.1 with a scripted engine; logs are captured for assertions. */
export async function startAppServer(options: AppServerOptions = {}) {
  const logLines: string[] = [];
  const logger = pino(
    { level: 'debug', redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' } },
    new Writable({ write: (chunk, _enc, done) => (logLines.push(String(chunk)), done()) }),
  );
  const engine = new ScriptedEngine();
  const metrics = createMetrics();
  const state = new ServerState();
  const queue = new GenerationQueue(engine, { maxQueueSize: options.maxQueueSize ?? 8, maxBatchSize: options.maxBatchSize ?? 1, batchWaitMs: options.batchWaitMs ?? 0, timeoutS: 30 }, metrics, logger);
  const store = new ImageStore((options.imageTtlS ?? 60) * 1000);
  const keys: KeySource | undefined = options.keys ? { current: () => new ApiKeys(options.keys!), secrets: () => options.keys! } : undefined;
  const modelId = options.modelId ?? 'org/tiny-model';
  const handler = createHandler({
    logger, metrics, keys, playground: options.playground ?? true, state, modelId, requestedDevice: 'auto', queueSize: () => queue.size,
    engineInfo: () => engine.info, queue, store, links: new ImageLinks(undefined, undefined), defaults: {},
    trustedProxy: trustCheck(options.trustedProxies ?? []),
  });
  const server: Server = await new Promise((resolve) => {
    const s = createServer(handler).listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url, engine, state, queue, logLines, modelId,
    async load() {
      state.ready(await engine.load());
    },
    async close() {
      store.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
