// Assembles one gateway: the model directory (watches), key sources, the scale client, the HTTP listener for the
// OpenAI API and the /healthz /readyz /metrics listener (ready once the watches have listed everything).
import http from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { KubeScaleClient } from '../autoscaler/scale.js';
import { EventRecorder } from '../controller/events.js';
import { startHealthServer } from '../http/server.js';
import { KubeClient } from '../kube/client.js';
import { HealthQueueProbe } from '../serving/endpoints.js';
import type { GatewayConfig } from './config.js';
import { KubeDirectory } from './directory.js';
import { Gateway } from './gateway.js';
import { FileKeys, KubeSecretKeys } from './keys.js';
import { GatewayMetrics } from './metrics.js';

export interface RunningGateway {
  gateway: Gateway;
  metrics: GatewayMetrics;
  port: number;
  metricsPort: number;
  /** SIGTERM: /readyz turns 503 for drainDelayMs (endpoints controllers take the pod out), still serving; then stop(). */
  drain(drainDelayMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, kc: KubeConfig, log: Logger, defaultMetrics = false): Promise<RunningGateway> {
  const metrics = new GatewayMetrics(defaultMetrics);
  let draining = false;
  const client = new KubeClient(kc, undefined, 'hypergen-gateway');
  const directory = new KubeDirectory(kc, client, config.namespaces, { initialMs: 500, maxMs: 30_000 }, log, (kind) => metrics.watchRestarts.inc({ kind }));
  const gateway = new Gateway({
    directory,
    secretKeys: new KubeSecretKeys(client),
    gatewayKeys: new FileKeys(config.apiKeyFile),
    probe: new HealthQueueProbe(),
    scales: new KubeScaleClient(client),
    events: new EventRecorder(client, log, `hypergen-gateway-${hostname()}`),
    metrics,
    log,
    options: { maxHeldPerModel: config.maxHeldPerModel, holdTimeoutMs: config.holdTimeoutS * 1000, probeIntervalMs: config.probeIntervalMs },
  });
  await directory.start();
  gateway.start();
  const health = await startHealthServer(config.metricsHost, config.metricsPort, metrics.registry, { healthy: () => true, ready: () => directory.synced && !draining });
  const server = http.createServer(gateway.handle);
  // Generations can take minutes; the default 5 min request timeout would cut long holds and batches.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const stop = async (): Promise<void> => {
    draining = true;
    gateway.stop();
    // Running generations get a grace period to finish streaming; idle keep-alive connections go at once.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const grace = setTimeout(() => server.closeAllConnections(), 10_000);
    await closed;
    clearTimeout(grace);
    const healthClosed = new Promise<void>((resolve) => health.close(() => resolve()));
    health.closeAllConnections();
    await healthClosed;
    await directory.stop();
    client.close();
  };
  return {
    gateway,
    metrics,
    port: (server.address() as AddressInfo).port,
    metricsPort: (health.address() as AddressInfo).port,
    async drain(drainDelayMs) {
      draining = true;
      await new Promise((r) => setTimeout(r, drainDelayMs));
      await stop();
    },
    stop,
  };
}
