// One reconcile of one HyperGenModel: plan, then create/update/prune the owned objects by comparing against the
// informer caches (Secrets: read by name, never listed), so an unchanged CR costs no writes; then write status only
// when it changed.
import type { Logger } from 'pino';
import { Reason, type HyperGenModel, type HyperGenModelStatus } from '../api/types.js';
import { ApiError, isAlreadyExists, isNotFound, resourcePath, Types, type KubeClient, type ResourceType } from '../kube/client.js';
import { isSubset } from '../kube/compare.js';
import { canonicalJson, MANAGED_BY, metaTime } from '../resources/meta.js';
import { CREATE_ONLY, OWNED_KINDS, ownedNames, plan, type CachedKind, type KubeObject, type OwnedKind, type PlanConfig } from '../resources/plan.js';
import { apiKeyRef } from '../resources/secret.js';
import { modelSource } from '../resources/source.js';
import { computeStatus, statusEqual, transitionEvents, type ObservedDeployment, type ObservedPod, type Problem } from '../status/status.js';
import type { EventRecorder } from './events.js';

export interface Cache<T> {
  get(name: string, namespace: string): T | undefined;
  list(namespace?: string): T[];
}

export interface Caches {
  models: Cache<HyperGenModel>;
  /** Informer caches of the owned kinds except Secrets. */
  owned: Record<CachedKind, Cache<KubeObject>>;
  pods: { of(namespace: string, model: string): KubeObject[] };
}

export interface ReconcilerDeps {
  client: KubeClient;
  caches: Caches;
  config: PlanConfig;
  randomBytes: (n: number) => Buffer;
  now: () => Date;
  events: EventRecorder;
  log: Logger;
}

export type ReconcileOutcome = 'done' | 'retry';

interface LiveMeta {
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { uid: string; controller?: boolean; kind: string }[];
  deletionTimestamp?: string;
}
const metaOf = (o: KubeObject) => o.metadata as LiveMeta;

/** Until the watch delivers our own write, the cache shows the object as it was: don't act on that stale copy. */
const PENDING_TTL_MS = 30_000;

export class Reconciler {
  /** objectKey -> resourceVersion the cache showed when we wrote ('' = absent). */
  private readonly pendingWrites = new Map<string, { rv: string; at: number }>();
  /** CR key -> CR resourceVersion and status JSON of our last status write. */
  private readonly pendingStatus = new Map<string, { rv: string; json: string }>();

  constructor(private readonly deps: ReconcilerDeps) {}

  /** The watch saw this object: the cache is current for it again. */
  observed(kind: string, namespace: string, name: string): void {
    this.pendingWrites.delete(`${kind}/${namespace}/${name}`);
  }

  forget(namespace: string, name: string): void {
    this.pendingStatus.delete(`${namespace}/${name}`);
  }

  async reconcile(namespace: string, name: string): Promise<ReconcileOutcome> {
    const cr = this.deps.caches.models.get(name, namespace);
    if (!cr || cr.metadata.deletionTimestamp) {
      this.forget(namespace, name);
      return 'done'; // children go with it through owner references
    }
    const problem = (await this.checkReferencedSecrets(cr)) ?? undefined;
    const desired = plan(cr, this.deps.config, this.deps.randomBytes).objects;
    let conflict: Problem | undefined;
    let deployment: KubeObject | undefined;
    let wrote = false;

    for (const kind of OWNED_KINDS) {
      const cache = kind === 'Secret' ? undefined : this.deps.caches.owned[kind];
      // A write to a kind without informer brings no watch event back: it must not hold the status write.
      const comesBack = cache !== undefined;
      const wants = desired.get(kind) ?? [];
      wrote = ((await this.prune(cr, kind, cache, new Set(wants.map((w) => w.metadata.name)))) && comesBack) || wrote;
      for (const want of wants) {
        const live = await this.live(kind, cache, namespace, want.metadata.name);
        // A missing Secret would only give pods that cannot start: hold the first rollout until it exists.
        if (kind === 'Deployment' && problem && !live) continue;
        let result: Awaited<ReturnType<Reconciler['ensure']>>;
        try {
          result = await this.ensure(cr, kind, want, live);
        } catch (err) {
          // Rejections that retrying alone will not fix (invalid object, forbidden) belong in status; the rest retry.
          if (!(err instanceof ApiError) || ![400, 403, 422].includes(err.code)) throw err;
          conflict ??= { reason: Reason.ApplyFailed, message: `${kind} ${want.metadata.name} was rejected: ${err.message}` };
          continue;
        }
        if (typeof result === 'string') conflict ??= { reason: Reason.ResourceConflict, message: result };
        else {
          wrote = (result.wrote && comesBack) || wrote;
          if (kind === 'Deployment') deployment = result.obj;
        }
      }
    }
    // Our writes come back as watch events that reconcile this CR again, with the server's view of what we wrote:
    // status is written then, once, instead of now and again then.
    if (wrote) return 'done';

    const pods = this.deps.caches.pods.of(namespace, name);
    const now = this.deps.now();
    const status = computeStatus(
      cr,
      { deployment: deployment as ObservedDeployment | undefined, pods: pods as unknown as ObservedPod[], problem: problem ?? conflict },
      metaTime(now),
    );
    await this.writeStatus(cr, status, now);
    return problem || conflict ? 'retry' : 'done';
  }

  /** Secrets the CR names must exist with their key; returns what is wrong in words fit for status. */
  private async checkReferencedSecrets(cr: HyperGenModel): Promise<Problem | undefined> {
    const refs: { name: string; key: string; field: string }[] = [];
    const key = apiKeyRef(cr);
    if (!key.generated) refs.push({ name: key.name, key: key.key, field: 'spec.apiKey.secretRef' });
    const source = modelSource(cr);
    if (source.kind === 'pull' && source.tokenSecretRef) refs.push({ ...source.tokenSecretRef, field: 'spec.source.tokenSecretRef' });
    for (const ref of refs) {
      try {
        const secret = await this.deps.client.request<{ data?: Record<string, string> }>(
          'GET',
          resourcePath(Types.Secret, cr.metadata.namespace, ref.name),
        );
        if (!secret.data || !(ref.key in secret.data)) {
          return { reason: Reason.SecretKeyNotFound, message: `Secret ${ref.name} (${ref.field}) has no key "${ref.key}"` };
        }
      } catch (err) {
        if (!isNotFound(err)) throw err;
        return { reason: Reason.SecretNotFound, message: `Secret ${ref.name} (${ref.field}) not found in namespace ${cr.metadata.namespace}` };
      }
    }
    return undefined;
  }

  /** Creates or corrects one object; returns the object as it now is, or a conflict message. */
  private async ensure(cr: HyperGenModel, kind: OwnedKind, want: KubeObject, live: KubeObject | undefined): Promise<{ obj?: KubeObject; wrote: boolean } | string> {
    const ns = cr.metadata.namespace;
    const type: ResourceType = Types[kind];
    const objectKey = `${kind}/${ns}/${want.metadata.name}`;
    const pending = this.pendingWrites.get(objectKey);
    if (pending && pending.rv === (live ? (metaOf(live).resourceVersion ?? '') : '') && Date.now() - pending.at < PENDING_TTL_MS) {
      return { obj: live, wrote: true }; // our write is on its way to the cache; its watch event re-queues this CR
    }
    this.pendingWrites.delete(objectKey);

    if (!live) {
      try {
        const created = await this.deps.client.request<KubeObject>('POST', resourcePath(type, ns), { body: want });
        this.pendingWrites.set(objectKey, { rv: '', at: Date.now() });
        this.deps.log.info({ namespace: ns, name: cr.metadata.name, kind }, 'created');
        return { obj: created, wrote: true };
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        if (CREATE_ONLY.has(kind)) return { wrote: false };
        // Not in our label-filtered cache but there: someone else's object, or our cache is behind.
        live = await this.deps.client.request<KubeObject>('GET', resourcePath(type, ns, want.metadata.name));
      }
    }
    const meta = metaOf(live);
    if (meta.deletionTimestamp) return { obj: live, wrote: false };
    const owner = meta.ownerReferences?.find((r) => r.controller);
    const ours = owner?.uid === cr.metadata.uid;
    // Adopt what we made for an earlier incarnation of this CR; never take over someone else's object.
    if (!ours && meta.labels?.['app.kubernetes.io/managed-by'] !== MANAGED_BY) {
      return `${kind} ${want.metadata.name} exists and is not managed by this HyperGenModel`;
    }
    if (CREATE_ONLY.has(kind)) {
      if (ours) return { obj: live, wrote: false };
      // Adopt without rewriting content (the cached Secret carries no data): only metadata changes.
      const adopted = await this.deps.client.request<KubeObject>('PATCH', resourcePath(type, ns, want.metadata.name), {
        body: { metadata: { ownerReferences: want.metadata.ownerReferences, labels: want.metadata.labels, resourceVersion: meta.resourceVersion } },
        contentType: 'application/merge-patch+json',
      });
      this.pendingWrites.set(objectKey, { rv: meta.resourceVersion ?? '', at: Date.now() });
      return { obj: adopted, wrote: true };
    }
    if (ours && isSubset(want, live)) return { obj: live, wrote: false };

    const body = this.updateBody(kind, want, live);
    const updated = await this.deps.client.request<KubeObject>('PUT', resourcePath(type, ns, want.metadata.name), { body });
    this.pendingWrites.set(objectKey, { rv: meta.resourceVersion ?? '', at: Date.now() });
    this.deps.log.info({ namespace: ns, name: cr.metadata.name, kind }, 'updated (drift or spec change)');
    return { obj: updated, wrote: true };
  }

  /** The full desired object for a PUT, keeping what others legitimately own on the live one. */
  private updateBody(kind: OwnedKind, want: KubeObject, live: KubeObject): KubeObject {
    const meta = metaOf(live);
    const body: KubeObject = {
      ...want,
      metadata: {
        ...want.metadata,
        resourceVersion: meta.resourceVersion,
        labels: { ...meta.labels, ...want.metadata.labels },
        annotations: { ...meta.annotations, ...want.metadata.annotations },
      },
    };
    const liveSpec = (live.spec ?? {}) as Record<string, unknown>;
    const spec = { ...(want.spec as Record<string, unknown>) };
    // Unset spec.replicas: an autoscaler (or a person) owns the Deployment's replica count.
    if (kind === 'Deployment' && spec.replicas === undefined && liveSpec.replicas !== undefined) spec.replicas = liveSpec.replicas;
    if (kind === 'Service') {
      for (const f of ['clusterIP', 'clusterIPs', 'ipFamilies', 'ipFamilyPolicy']) if (liveSpec[f] !== undefined) spec[f] = liveSpec[f];
    }
    body.spec = spec;
    return body;
  }

  /** An owned object as it is now: from its informer cache, or (Secrets) one GET by name, its data dropped at once. */
  private async live(kind: OwnedKind, cache: Cache<KubeObject> | undefined, namespace: string, name: string): Promise<KubeObject | undefined> {
    if (cache) return cache.get(name, namespace);
    try {
      const obj = await this.deps.client.request<KubeObject>('GET', resourcePath(Types[kind], namespace, name));
      delete obj.data;
      delete obj.stringData;
      return obj;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Deletes owned objects of a kind that the plan no longer has (names not in `keep`); true when it deleted any. */
  private async prune(cr: HyperGenModel, kind: OwnedKind, cache: Cache<KubeObject> | undefined, keep: ReadonlySet<string>): Promise<boolean> {
    let deleted = false;
    for (const name of ownedNames(cr)[kind].filter((n) => !keep.has(n))) {
      const obj = await this.live(kind, cache, cr.metadata.namespace, name);
      if (!obj) continue;
      const meta = metaOf(obj);
      if (meta.deletionTimestamp || !meta.ownerReferences?.some((r) => r.controller && r.uid === cr.metadata.uid)) continue;
      try {
        await this.deps.client.request('DELETE', resourcePath(Types[kind], cr.metadata.namespace, obj.metadata.name));
        deleted = true;
        this.deps.log.info({ namespace: cr.metadata.namespace, name: cr.metadata.name, kind, object: obj.metadata.name }, 'pruned');
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return deleted;
  }

  private async writeStatus(cr: HyperGenModel, status: HyperGenModelStatus, now: Date): Promise<void> {
    const key = `${cr.metadata.namespace}/${cr.metadata.name}`;
    if (statusEqual(cr.status, status)) return;
    const json = canonicalJson(status);
    const last = this.pendingStatus.get(key);
    if (last && last.rv === cr.metadata.resourceVersion && last.json === json) return; // already written, cache lagging
    // Merge patch: null clears what the new status no longer has (e.g. ingressURL).
    const patch: Record<string, unknown> = { ...status };
    for (const k of Object.keys(cr.status ?? {})) if (!(k in status)) patch[k] = null;
    await this.deps.client.request('PATCH', resourcePath(Types.HyperGenModel, cr.metadata.namespace, cr.metadata.name, 'status'), {
      body: { status: patch },
      contentType: 'application/merge-patch+json',
    });
    this.pendingStatus.set(key, { rv: cr.metadata.resourceVersion ?? '', json });
    for (const event of transitionEvents(cr.status?.conditions, status.conditions ?? [])) await this.deps.events.record(cr, event, now);
  }
}
