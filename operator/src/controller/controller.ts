// Wiring: informers on HyperGenModels and the owned kinds feed a work queue; workers run the reconciler.
import { randomBytes } from 'node:crypto';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { KIND, type HyperGenModel } from '../api/types.js';
import { Types, type KubeClient } from '../kube/client.js';
import { dropManagedFields, Watcher, type BackoffOptions, type Transform } from '../kube/watcher.js';
import type { OperatorMetrics } from '../metrics.js';
import { INSTANCE_LABEL, MANAGED_SELECTOR } from '../resources/meta.js';
import { CACHED_KINDS, type CachedKind, type KubeObject, type PlanConfig } from '../resources/plan.js';
import { EventRecorder } from './events.js';
import { PodIndex } from './pod-index.js';
import { WorkQueue } from './queue.js';
import { Reconciler } from './reconciler.js';

export interface ControllerOptions {
  plan: PlanConfig;
  /** Empty: all namespaces. */
  namespaces: readonly string[];
  workers: number;
  /** Every CR is reconciled again this often even without events (0 = never). */
  resyncPeriodMs: number;
  queueBackoff: { backoffInitialMs: number; backoffMaxMs: number };
  watchBackoff: BackoffOptions;
  /** Names this instance in Events. */
  identity: string;
}

type AnyObject = KubernetesObject & KubeObject;

export class Controller {
  readonly queue: WorkQueue;
  private readonly models: Watcher<HyperGenModel & KubernetesObject>;
  private readonly owned: Record<CachedKind, Watcher<AnyObject>>;
  private readonly pods: Watcher<AnyObject>;
  private readonly podIndex = new PodIndex();
  private readonly reconciler: Reconciler;
  private running = false;
  private readonly workers: Promise<void>[] = [];
  private resyncTimer?: NodeJS.Timeout;

  constructor(
    kc: KubeConfig,
    client: KubeClient,
    private readonly options: ControllerOptions,
    private readonly metrics: OperatorMetrics,
    private readonly log: Logger,
  ) {
    this.queue = new WorkQueue(options.queueBackoff, { depth: metrics.queueDepth, inFlight: metrics.activeWorkers });
    const onRestart = (type: { kind: string }) => this.metrics.watchRestarts.inc({ kind: type.kind });
    const watch = <T extends KubernetesObject>(
      type: (typeof Types)[keyof typeof Types],
      selector: string | undefined,
      onChange: (verb: string, obj: T) => void,
      transform: Transform = dropManagedFields,
    ) => new Watcher<T>(kc, client, type, options.namespaces, selector, { onChange, onRestart }, options.watchBackoff, log, transform);
    this.models = watch<HyperGenModel & KubernetesObject>(Types.HyperGenModel, undefined, (verb, cr) => {
      if (verb === 'delete') this.reconciler.forget(cr.metadata.namespace, cr.metadata.name);
      this.queue.add(`${cr.metadata.namespace}/${cr.metadata.name}`);
    });
    // No informer on Secrets: the reconciler reads the few it needs by name (RBAC: get, no list/watch).
    this.owned = Object.fromEntries(
      CACHED_KINDS.map((kind) => [
        kind,
        watch<AnyObject>(
          Types[kind],
          MANAGED_SELECTOR,
          (_verb, obj) => {
            this.reconciler.observed(kind, obj.metadata.namespace ?? '', obj.metadata.name);
            this.enqueueOwner(obj);
          },
        ),
      ]),
    ) as Record<CachedKind, Watcher<AnyObject>>;
    // Pods are read only for their status (why a rollout is stuck); their spec is most of their size.
    const keepPodStatus: Transform = (obj) => {
      dropManagedFields(obj);
      delete (obj as { spec?: unknown }).spec;
    };
    this.pods = watch<AnyObject>(
      Types.Pod,
      MANAGED_SELECTOR,
      (verb, pod) => {
        this.podIndex.update(verb as 'add' | 'update' | 'delete', pod);
        this.enqueueOwner(pod);
      },
      keepPodStatus,
    );

    this.reconciler = new Reconciler({
      client,
      caches: { models: this.models, owned: this.owned, pods: this.podIndex },
      config: options.plan,
      randomBytes,
      now: () => new Date(),
      events: new EventRecorder(client, log, options.identity),
      log,
    });
  }

  private enqueueOwner(obj: KubeObject): void {
    const meta = obj.metadata as { namespace?: string; labels?: Record<string, string>; ownerReferences?: { kind: string; name: string; controller?: boolean }[] };
    const owner = meta.ownerReferences?.find((r) => r.controller && r.kind === KIND)?.name ?? meta.labels?.[INSTANCE_LABEL];
    if (owner && meta.namespace) this.queue.add(`${meta.namespace}/${owner}`);
  }

  private get watchers(): Watcher<KubernetesObject>[] {
    return [this.models, ...Object.values(this.owned), this.pods] as Watcher<KubernetesObject>[];
  }

  /** All caches hold a full initial list. */
  get synced(): boolean {
    return this.watchers.every((w) => w.synced);
  }

  async start(): Promise<void> {
    this.running = true;
    await Promise.all(this.watchers.map((w) => w.start()));
    // Acting on a partial cache would re-create objects that exist: wait until every list has landed.
    while (this.running && !this.synced) await new Promise((r) => setTimeout(r, 100));
    if (!this.running) return;
    for (let i = 0; i < this.options.workers; i++) this.workers.push(this.work());
    if (this.options.resyncPeriodMs > 0) this.resyncTimer = setInterval(() => this.resyncAll(), this.options.resyncPeriodMs);
    this.log.info({ namespaces: this.options.namespaces.length ? this.options.namespaces : 'all' }, 'controller started');
  }

  /** The cached HyperGenModels (the autoscaler reads them). */
  listModels(): HyperGenModel[] {
    return this.models.list();
  }

  /** The cached pods of one HyperGenModel (status and labels only). */
  podsOf(namespace: string, name: string): KubeObject[] {
    return this.podIndex.of(namespace, name);
  }

  /** Queues every known CR, as a periodic resync does. */
  resyncAll(): void {
    for (const cr of this.models.list()) this.queue.add(`${cr.metadata.namespace}/${cr.metadata.name}`);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const [namespace = '', name = ''] = key.split('/');
      const end = this.metrics.reconcileDuration.startTimer();
      try {
        const outcome = await this.reconciler.reconcile(namespace, name);
        this.metrics.reconciles.inc({ result: outcome === 'done' ? 'success' : 'requeue' });
        if (outcome === 'done') this.queue.forget(key);
        else this.queue.addRateLimited(key);
      } catch (err) {
        this.metrics.reconciles.inc({ result: 'error' });
        this.metrics.reconcileErrors.inc();
        const delayMs = this.queue.addRateLimited(key);
        this.log.warn({ key, err: err instanceof Error ? err.message : String(err), delayMs }, 'reconcile failed; retrying');
      } finally {
        end();
        this.queue.done(key);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.resyncTimer);
    this.queue.shutdown();
    await Promise.all(this.workers.splice(0));
    await Promise.all(this.watchers.map((w) => w.stop()));
  }
}
