// The operator's Prometheus metrics (reconciles, their errors and duration, work-queue depth and active workers, API
// writes, watch restarts, leadership), on a registry of its own per instance; process defaults only when asked.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The operator's Prometheus metrics, on their own registry (one per operator instance, so tests can run several). */
export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: 'hypergen_operator_reconcile_total',
    help: 'Reconciles of HyperGenModels by result (success, error, requeue).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'hypergen_operator_reconcile_errors_total',
    help: 'Reconciles that failed and were retried with backoff.',
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'hypergen_operator_reconcile_duration_seconds',
    help: 'Time one reconcile takes.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'hypergen_operator_queue_depth',
    help: 'Keys waiting in the work queue.',
    registers: [this.registry],
  });
  readonly activeWorkers = new Gauge({
    name: 'hypergen_operator_active_workers',
    help: 'Workers running a reconcile now (work-queue keys in flight).',
    registers: [this.registry],
  });
  readonly apiWrites = new Counter({
    name: 'hypergen_operator_api_writes_total',
    help: 'Write requests sent to the Kubernetes API by method and response code.',
    labelNames: ['method', 'code'] as const,
    registers: [this.registry],
  });
  readonly watchRestarts = new Counter({
    name: 'hypergen_operator_watch_restarts_total',
    help: 'Watches restarted after failing, by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'hypergen_operator_leader',
    help: '1 while this instance holds the leader lease.',
    registers: [this.registry],
  });

  constructor(defaults = false) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'hypergen_operator_' });
  }
}
