// The gateway's Prometheus metrics, on their own registry (one per gateway instance, so tests can run several).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'hypergen_gateway_requests_total',
    help: 'Requests answered by the gateway, by route and status code.',
    labelNames: ['route', 'code'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'hypergen_gateway_request_duration_seconds',
    help: 'Time from request to the end of the response, holding and the pod included.',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly routing = new Counter({
    name: 'hypergen_gateway_routing_decisions_total',
    help: 'Generation requests by model and decision: routed (a ready pod), held (waited for one), unavailable, retried (a pod refused the connection).',
    labelNames: ['model', 'decision'] as const,
    registers: [this.registry],
  });
  readonly held = new Gauge({
    name: 'hypergen_gateway_held_requests',
    help: 'Requests held now, waiting for a ready pod, by model.',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  readonly holdOutcomes = new Counter({
    name: 'hypergen_gateway_held_requests_total',
    help: 'Held requests by outcome: released to a pod, rejected (cap reached, 429), timed_out (504), dropped (client left).',
    labelNames: ['model', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly scaleFromZero = new Counter({
    name: 'hypergen_gateway_scale_from_zero_total',
    help: 'Times the gateway scaled a model from 0 replicas because a request arrived.',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  readonly coldStart = new Histogram({
    name: 'hypergen_gateway_cold_start_seconds',
    help: 'From scaling a model up from zero to its first ready pod.',
    labelNames: ['model'] as const,
    buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });
  readonly watchRestarts = new Counter({
    name: 'hypergen_gateway_watch_restarts_total',
    help: 'Watches restarted after failing, by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  constructor(defaults = false) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'hypergen_gateway_' });
  }
}
