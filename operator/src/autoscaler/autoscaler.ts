// The autoscaler loop: every interval, for each HyperGenModel with spec.autoscaling, reads its ready pods' queue
// sizes (QueueProbe), keeps the window of samples, asks decide() and writes a changed count through the scale
// subresource (ScaleClient), recording an Event and metrics. Models without spec.autoscaling are never touched.
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { HyperGenModel } from '../api/types.js';
import type { EventRecord } from '../status/status.js';
import { isConflict, isNotFound } from '../kube/client.js';
import { endpointOf, type EndpointPod, type QueueProbe } from '../serving/endpoints.js';
import { decide, policyOf, type Sample, type ScaleMemory } from './decide.js';
import type { ScaleClient } from './scale.js';

export class AutoscalerMetrics {
  readonly decisions: Counter<'namespace' | 'name' | 'reason'>;
  readonly desired: Gauge<'namespace' | 'name'>;
  readonly load: Gauge<'namespace' | 'name'>;

  constructor(registry: Registry) {
    this.decisions = new Counter({
      name: 'hypergen_operator_autoscaler_decisions_total',
      help: 'Replica changes the autoscaler wrote, by model and reason (ScaledUp, ScaledDown, ScaledToZero, OutOfBounds).',
      labelNames: ['namespace', 'name', 'reason'] as const,
      registers: [registry],
    });
    this.desired = new Gauge({
      name: 'hypergen_operator_autoscaler_desired_replicas',
      help: 'Replicas the autoscaler last decided on, by model.',
      labelNames: ['namespace', 'name'] as const,
      registers: [registry],
    });
    this.load = new Gauge({
      name: 'hypergen_operator_autoscaler_load',
      help: "The latest sample of a model's load: admitted generations (running or waiting) summed over its ready pods.",
      labelNames: ['namespace', 'name'] as const,
      registers: [registry],
    });
  }
}

export interface AutoscalerDeps {
  models(): HyperGenModel[];
  pods(namespace: string, name: string): EndpointPod[];
  probe: QueueProbe;
  scales: ScaleClient;
  events: { record(cr: HyperGenModel, event: EventRecord, now: Date): Promise<void> };
  metrics: AutoscalerMetrics;
  log: Logger;
  intervalMs: number;
  windowMs: number;
  /** Monotonic ms. */
  now?: () => number;
}

export class Autoscaler {
  private readonly windows = new Map<string, Sample[]>();
  private readonly memory = new Map<string, ScaleMemory>();
  private timer?: NodeJS.Timeout;
  private running = false;
  private current?: Promise<void>;

  constructor(private readonly deps: AutoscalerDeps) {}

  private now(): number {
    return this.deps.now ? this.deps.now() : performance.now();
  }

  start(): void {
    this.running = true;
    const loop = () => {
      if (!this.running) return;
      this.current = this.tick().catch((err: unknown) => this.deps.log.warn({ err: String(err) }, 'autoscaler tick failed'));
      void this.current.then(() => {
        if (this.running) this.timer = setTimeout(loop, this.deps.intervalMs);
      });
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.current;
  }

  /** One round over every autoscaled model. */
  async tick(): Promise<void> {
    const models = this.deps.models().filter((cr) => cr.spec.autoscaling && !cr.metadata.deletionTimestamp);
    const live = new Set(models.map((cr) => `${cr.metadata.namespace}/${cr.metadata.name}`));
    for (const key of [...this.windows.keys()]) {
      if (!live.has(key)) {
        this.windows.delete(key);
        this.memory.delete(key);
      }
    }
    await Promise.all(models.map((cr) => this.scaleOne(cr)));
  }

  private async scaleOne(cr: HyperGenModel): Promise<void> {
    const { namespace, name } = cr.metadata;
    const key = `${namespace}/${name}`;
    const policy = policyOf(cr.spec.autoscaling!);
    const endpoints = this.deps.pods(namespace, name).flatMap((p) => {
      const e = endpointOf(p);
      return e ? [e] : [];
    });
    const queues = await Promise.all(endpoints.map((e) => this.deps.probe.queueSize(e)));
    const now = this.now();
    const load = queues.reduce<number>((s, q) => s + (q ?? 0), 0);
    const window = (this.windows.get(key) ?? []).filter((s) => now - s.at < this.deps.windowMs);
    window.push({ at: now, load });
    this.windows.set(key, window);
    this.deps.metrics.load.set({ namespace, name }, load);
    // Unset replicas: the Deployment's default of 1 is what runs.
    const current = cr.spec.replicas ?? 1;
    const before = this.memory.get(key) ?? {};
    const decision = decide({ policy, current, ready: endpoints.length, samples: window, now, memory: before });
    this.memory.set(key, decision.memory);
    this.deps.metrics.desired.set({ namespace, name }, decision.replicas);
    if (decision.replicas === current || !decision.reason) return;
    // A failed write keeps the delay already served, unless the count itself has moved (then decide() restarts it).
    const keep: ScaleMemory = { lastReplicas: current, ...(before.lastReplicas === current && before.belowSince !== undefined ? { belowSince: before.belowSince } : {}) };
    try {
      // Only over the count this decision saw: a concurrent writer (the gateway waking it, a user) wins.
      const live = await this.deps.scales.get({ namespace, name });
      if (live.replicas !== current) {
        this.memory.set(key, { lastReplicas: live.replicas });
        return;
      }
      await this.deps.scales.set({ namespace, name }, decision.replicas, live.resourceVersion);
    } catch (err) {
      this.memory.set(key, keep);
      if (isConflict(err) || isNotFound(err)) return;
      throw err;
    }
    this.deps.metrics.decisions.inc({ namespace, name, reason: decision.reason });
    this.deps.log.info({ namespace, name, from: current, to: decision.replicas, reason: decision.reason, message: decision.message }, 'autoscaled');
    await this.deps.events.record(cr, { type: 'Normal', reason: decision.reason, message: decision.message }, new Date());
  }
}
