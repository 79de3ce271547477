// Seam: the models the gateway serves and their ready pods. KubeDirectory watches HyperGenModels and their Pods
// (client-node informers, restarted on failure); tests use a plain in-memory implementation of ModelDirectory.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { HyperGenModel, HyperGenModelSpecAutoscaling } from '../api/types.js';
import { Types, type KubeClient } from '../kube/client.js';
import { Watcher, type BackoffOptions, type Transform } from '../kube/watcher.js';
import { MANAGED_SELECTOR } from '../resources/meta.js';
import { apiKeyRef } from '../resources/secret.js';
import { endpointOf, type Endpoint, type EndpointPod } from '../serving/endpoints.js';

export interface ServedModel {
  /** What clients send as `model` (spec.model). */
  id: string;
  namespace: string;
  /** The HyperGenModel's name. */
  name: string;
  /** Its uid (Events name the object by it). */
  uid?: string;
  /** Unix seconds: when the HyperGenModel was created. */
  created: number;
  /** spec.replicas; undefined when someone else owns the count. */
  replicas?: number;
  autoscaling?: HyperGenModelSpecAutoscaling;
  /** The Secret key holding the model's API key(s), one per line. */
  apiKey: { name: string; key: string };
}

export interface ModelDirectory {
  models(): ServedModel[];
  /** The model's ready pods. */
  endpoints(model: ServedModel): Endpoint[];
  /** Called after any change to models or pods; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  readonly synced: boolean;
}

export function servedModel(cr: HyperGenModel): ServedModel {
  const key = apiKeyRef(cr);
  const created = cr.metadata.creationTimestamp ? Math.floor(Date.parse(cr.metadata.creationTimestamp) / 1000) : 0;
  return {
    id: cr.spec.model,
    namespace: cr.metadata.namespace,
    name: cr.metadata.name,
    ...(cr.metadata.uid ? { uid: cr.metadata.uid } : {}),
    created,
    ...(cr.spec.replicas !== undefined ? { replicas: cr.spec.replicas } : {}),
    ...(cr.spec.autoscaling ? { autoscaling: cr.spec.autoscaling } : {}),
    apiKey: { name: key.name, key: key.key },
  };
}

/**
 * One model per id: when two HyperGenModels declare the same spec.model, the oldest serves it (then by
 * namespace/name), so the choice does not flip as objects are listed in another order.
 */
export function uniqueById(models: readonly ServedModel[]): ServedModel[] {
  const byId = new Map<string, ServedModel>();
  const older = (a: ServedModel, b: ServedModel) => a.created < b.created || (a.created === b.created && `${a.namespace}/${a.name}` < `${b.namespace}/${b.name}`);
  for (const m of models) {
    const seen = byId.get(m.id);
    if (!seen || older(m, seen)) byId.set(m.id, m);
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

// Only what routing reads is cached: a Pod's spec is most of its size.
const keepEndpointFields: Transform = (obj) => {
  const pod = obj as KubernetesObject & EndpointPod;
  delete pod.metadata?.managedFields;
  const containers = pod.spec?.containers?.map((c) => ({ name: c.name, ...(c.ports ? { ports: c.ports } : {}) }));
  (pod as { spec?: unknown }).spec = { containers };
  const status = pod.status;
  (pod as { status?: unknown }).status = status ? { podIP: status.podIP, conditions: status.conditions?.map((c) => ({ type: c.type, status: c.status })) } : undefined;
};

export class KubeDirectory implements ModelDirectory {
  private readonly crs: Watcher<HyperGenModel & KubernetesObject>;
  private readonly pods: Watcher<EndpointPod & KubernetesObject>;
  private readonly listeners = new Set<() => void>();

  constructor(kc: KubeConfig, client: KubeClient, namespaces: readonly string[], backoff: BackoffOptions, log: Logger, onRestart?: (kind: string) => void) {
    const events = { onChange: () => this.changed(), onRestart: (type: { kind: string }) => onRestart?.(type.kind) };
    this.crs = new Watcher(kc, client, Types.HyperGenModel, namespaces, undefined, events, backoff, log);
    this.pods = new Watcher(kc, client, Types.Pod, namespaces, MANAGED_SELECTOR, events, backoff, log, keepEndpointFields);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  models(): ServedModel[] {
    return uniqueById(this.crs.list().filter((cr) => !cr.metadata.deletionTimestamp).map(servedModel));
  }

  endpoints(model: ServedModel): Endpoint[] {
    return this.pods.list(model.namespace).flatMap((p) => {
      const e = endpointOf(p);
      return e && e.model === model.name ? [e] : [];
    });
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get synced(): boolean {
    return this.crs.synced && this.pods.synced;
  }

  async start(): Promise<void> {
    await Promise.all([this.crs.start(), this.pods.start()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.crs.stop(), this.pods.stop()]);
  }
}
