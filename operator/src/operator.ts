// Assembles one operator instance: API client, controller, leader election, health/metrics server.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { OperatorConfig } from './config.js';
import { Autoscaler, AutoscalerMetrics } from './autoscaler/autoscaler.js';
import { KubeScaleClient } from './autoscaler/scale.js';
import { Controller } from './controller/controller.js';
import { EventRecorder } from './controller/events.js';
import { startHealthServer } from './http/server.js';
import { KubeClient } from './kube/client.js';
import { LeaderElector } from './leader/lease.js';
import type { Logger } from './logger.js';
import { OperatorMetrics } from './metrics.js';
import { HealthQueueProbe, type EndpointPod, type QueueProbe } from './serving/endpoints.js';

export interface TuningOptions {
  queueBackoff?: { backoffInitialMs: number; backoffMaxMs: number };
  watchBackoff?: { initialMs: number; maxMs: number };
  lease?: { leaseDurationS: number; renewDeadlineMs: number; retryPeriodMs: number };
  defaultMetrics?: boolean;
  /** How the autoscaler reads pods' queues (default: their /health). */
  queueProbe?: QueueProbe;
}

export interface RunningOperator {
  controller: Controller;
  metrics: OperatorMetrics;
  client: KubeClient;
  /** Port of the health/metrics server. */
  port: number;
  /** Resolves when leadership is lost (the process should exit and restart). */
  lost: Promise<void>;
  stop(): Promise<void>;
}

export function loadKubeConfig(config: Pick<OperatorConfig, 'kubeconfig'>, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
  else if (env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

export async function startOperator(config: OperatorConfig, kc: KubeConfig, log: Logger, tuning: TuningOptions = {}): Promise<RunningOperator> {
  const metrics = new OperatorMetrics(tuning.defaultMetrics ?? false);
  const client = new KubeClient(kc, (method, _path, code) => metrics.apiWrites.inc({ method, code: String(code) }));
  const controller = new Controller(
    kc,
    client,
    {
      plan: { defaultImage: config.defaultImage, gpuResourceName: config.gpuResourceName, imagePullPolicy: config.imagePullPolicy },
      namespaces: config.namespaces,
      workers: config.workers,
      resyncPeriodMs: config.resyncPeriodS * 1000,
      queueBackoff: tuning.queueBackoff ?? { backoffInitialMs: 500, backoffMaxMs: 60_000 },
      watchBackoff: tuning.watchBackoff ?? { initialMs: 500, maxMs: 30_000 },
      identity: config.identity,
    },
    metrics,
    log,
  );
  // Replicas of models with spec.autoscaling, from their pods' queues; runs with the controller, on the leader only.
  const autoscaler = new Autoscaler({
    models: () => controller.listModels(),
    pods: (namespace, name) => controller.podsOf(namespace, name) as unknown as EndpointPod[],
    probe: tuning.queueProbe ?? new HealthQueueProbe(),
    scales: new KubeScaleClient(client),
    events: new EventRecorder(client, log, config.identity),
    metrics: new AutoscalerMetrics(metrics.registry),
    log,
    intervalMs: config.autoscaleIntervalMs,
    windowMs: config.autoscaleWindowS * 1000,
  });
  const elector = config.leaderElect
    ? new LeaderElector(
        client,
        {
          namespace: config.leaderElectionNamespace,
          name: config.leaderElectionId,
          identity: config.identity,
          ...(tuning.lease ?? { leaseDurationS: 15, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 }),
        },
        log,
      )
    : undefined;

  let started = false;
  const server: http.Server = await startHealthServer(config.metricsHost, config.metricsPort, metrics.registry, {
    healthy: () => true,
    // A standby is ready (it is healthy and waiting); the leader once its caches are synced.
    ready: () => (elector && !elector.isLeader ? true : started && controller.synced),
  });
  const startController = () => {
    metrics.leader.set(1);
    void controller.start().then(
      () => {
        started = true;
        autoscaler.start();
      },
      (err: unknown) => log.error({ err: String(err) }, 'controller failed to start'),
    );
  };
  let onLost: () => void = () => {};
  const lost = new Promise<void>((resolve) => (onLost = resolve));
  if (elector) {
    elector.run(startController, () => {
      metrics.leader.set(0);
      void autoscaler
        .stop()
        .then(() => controller.stop())
        .then(onLost);
    });
  } else startController();

  return {
    controller,
    metrics,
    client,
    port: (server.address() as AddressInfo).port,
    lost,
    async stop() {
      await autoscaler.stop();
      await controller.stop();
      await elector?.release();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      client.close();
    },
  };
}
