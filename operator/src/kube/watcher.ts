// client-node's informer (list + watch + cache) with what it lacks: it stops for good when a watch fails
// (socket reset, 5xx on list), so each failure restarts it after an exponential backoff.
import { makeInformer, type Informer, type KubeConfig, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { resourcePath, type KubeClient, type ResourceType } from './client.js';

export interface WatchEvents<T> {
  onChange(verb: 'add' | 'update' | 'delete', obj: T): void;
  onRestart?(type: ResourceType, error: unknown): void;
}

/**
 * Trims an object before it is cached (in place: client-node caches the very object it hands to callbacks).
 * managedFields alone are often half of an object; the operator never reads them.
 */
export type Transform = (obj: KubernetesObject) => void;
export const dropManagedFields: Transform = (obj) => {
  delete obj.metadata?.managedFields;
};

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/** One informer for one kind in one namespace ('' = all namespaces). */
class NamespaceWatcher<T extends KubernetesObject> {
  readonly informer: Informer<T> & ObjectCache<T>;
  synced = false;
  private failures = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    kc: KubeConfig,
    client: KubeClient,
    private readonly type: ResourceType,
    namespace: string,
    labelSelector: string | undefined,
    private readonly events: WatchEvents<T>,
    private readonly backoff: BackoffOptions,
    private readonly log: Logger,
    transform: Transform,
  ) {
    const path = resourcePath(type, namespace || undefined);
    const list = async () => {
      const result = await client.request<{ items: T[]; metadata: { resourceVersion?: string } }>('GET', path, {
        query: { labelSelector },
      });
      // List items carry no apiVersion/kind; the cache and comparisons want them.
      for (const item of result.items) {
        item.apiVersion ??= type.group ? `${type.group}/${type.version}` : type.version;
        item.kind ??= type.kind;
        transform(item);
      }
      this.synced = true;
      return result;
    };
    this.informer = makeInformer<T>(kc, path, list, labelSelector);
    for (const verb of ['add', 'update', 'delete'] as const) {
      this.informer.on(verb, (obj) => {
        this.failures = 0;
        transform(obj);
        this.events.onChange(verb, obj);
      });
    }
    this.informer.on('error', (err) => this.restart(err));
  }

  private restart(err: unknown): void {
    if (this.stopped) return;
    const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.failures);
    this.failures += 1;
    this.log.warn({ kind: this.type.kind, err: String(err), delayMs: delay }, 'watch failed; restarting');
    this.events.onRestart?.(this.type, err);
    this.timer = setTimeout(() => void this.begin(), delay);
  }

  /** The informer's start runs list then watch; a stop during the list must wait for it, or the watch outlives us. */
  private starting?: Promise<void>;

  private begin(): Promise<void> {
    this.starting = this.informer.start().catch(() => {});
    return this.starting;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.begin();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.informer.stop();
    await this.starting;
    await this.informer.stop();
  }
}

/** A kind watched in all namespaces or in a listed set, behind one cache interface. */
export class Watcher<T extends KubernetesObject> {
  private readonly byNamespace = new Map<string, NamespaceWatcher<T>>();

  constructor(
    kc: KubeConfig,
    client: KubeClient,
    readonly type: ResourceType,
    namespaces: readonly string[],
    labelSelector: string | undefined,
    events: WatchEvents<T>,
    backoff: BackoffOptions,
    log: Logger,
    transform: Transform = dropManagedFields,
  ) {
    for (const ns of namespaces.length > 0 ? namespaces : ['']) {
      this.byNamespace.set(ns, new NamespaceWatcher(kc, client, type, ns, labelSelector, events, backoff, log, transform));
    }
  }

  private watcherFor(namespace: string) {
    return this.byNamespace.get(namespace) ?? this.byNamespace.get('');
  }

  get(name: string, namespace: string): T | undefined {
    return this.watcherFor(namespace)?.informer.get(name, namespace);
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) return [...(this.watcherFor(namespace)?.informer.list(namespace) ?? [])];
    return [...this.byNamespace.values()].flatMap((w) => [...w.informer.list()]);
  }

  get synced(): boolean {
    return [...this.byNamespace.values()].every((w) => w.synced);
  }

  async start(): Promise<void> {
    await Promise.all([...this.byNamespace.values()].map((w) => w.start()));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.byNamespace.values()].map((w) => w.stop()));
  }
}
