// Planned objects of one kind -> API writes: create, adopt, update drift keeping the kind's live fields, prune.
import type { Logger } from 'pino';
import type { ObjectMeta } from '../api/types.js';
import { ApiError, isAlreadyExists, isNotFound, resourcePath, Types, type KubeClient } from '../kube/client.js';
import { isSubset } from '../kube/compare.js';
import { MANAGED_BY, type Planned } from '../resources/meta.js';
import { APPLY_RULES, type KubeObject, type OwnedKind } from '../resources/plan.js';

export interface Cache<T> {
  get(name: string, namespace: string): T | undefined;
  list(namespace?: string): T[];
}

/** The object exists but belongs to someone else (another owner, or not made by this operator): never taken over. */
export class OwnershipConflict extends Error {
  constructor(
    readonly kind: string,
    readonly objectName: string,
  ) {
    super(`${kind} ${objectName} exists and is not managed by this HyperGenModel`);
    this.name = 'OwnershipConflict';
  }
}

/** The API refused the object itself (invalid, forbidden): writing it again unchanged will not help. */
export class ApplyRejected extends Error {
  constructor(
    readonly kind: string,
    readonly objectName: string,
    cause: ApiError,
  ) {
    super(`${kind} ${objectName} was rejected: ${cause.message}`, { cause });
    this.name = 'ApplyRejected';
  }
}

export interface KindOptions {
  /** The kind's informer cache; without one (Secrets) live objects are read by name. */
  cache?: Cache<KubeObject>;
  /** Every name the owner may give an object of this kind: those the plan no longer has are pruned. */
  names: readonly string[];
  /** Create nothing that is missing (update and adopt what exists). */
  holdCreate?: boolean;
}

export interface KindResult {
  /** Each planned object as it now is (absent: held back, conflicting or rejected). */
  objects: KubeObject[];
  /** A write (or one still in flight) whose watch event will reconcile the owner again. */
  awaitingWatch: boolean;
  /** Objects that could not be applied, for status; other errors are thrown (retry). */
  failures: (OwnershipConflict | ApplyRejected)[];
}

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

export class Applier {
  /** objectKey -> resourceVersion the cache showed when we wrote ('' = absent). */
  private readonly pendingWrites = new Map<string, { rv: string; at: number }>();

  constructor(private readonly deps: { client: KubeClient; log: Logger }) {}

  /** The watch saw this object: the cache is current for it again. */
  observed(kind: string, namespace: string, name: string): void {
    this.pendingWrites.delete(`${kind}/${namespace}/${name}`);
  }

  /** Prunes what the plan dropped, then creates or corrects each planned object of `kind` owned by `owner`. */
  async applyKind(owner: ObjectMeta, kind: OwnedKind, wants: readonly Planned[], options: KindOptions): Promise<KindResult> {
    const { cache } = options;
    // A write to a kind without informer brings no watch event back: it must not hold the owner's status write.
    const comesBack = cache !== undefined;
    const result: KindResult = { objects: [], awaitingWatch: false, failures: [] };
    const keep = new Set(wants.map((w) => w.metadata.name));
    result.awaitingWatch = (await this.prune(owner, kind, cache, options.names.filter((n) => !keep.has(n)))) && comesBack;
    for (const want of wants) {
      const live = await this.live(kind, cache, owner.namespace, want.metadata.name);
      if (options.holdCreate && !live) continue;
      let applied: { obj?: KubeObject; wrote: boolean };
      try {
        applied = await this.ensure(owner, kind, want, live);
      } catch (err) {
        if (err instanceof OwnershipConflict) result.failures.push(err);
        // Rejections that retrying alone will not fix (invalid object, forbidden) belong in status; the rest retry.
        else if (err instanceof ApiError && [400, 403, 422].includes(err.code)) result.failures.push(new ApplyRejected(kind, want.metadata.name, err));
        else throw err;
        continue;
      }
      if (applied.wrote && comesBack) result.awaitingWatch = true;
      if (applied.obj) result.objects.push(applied.obj);
    }
    return result;
  }

  /** Creates or corrects one object; returns the object as it now is. Throws OwnershipConflict. */
  private async ensure(owner: ObjectMeta, kind: OwnedKind, want: Planned, live: KubeObject | undefined): Promise<{ obj?: KubeObject; wrote: boolean }> {
    const ns = owner.namespace;
    const type = Types[kind];
    const rule = APPLY_RULES[kind];
    const objectKey = `${kind}/${ns}/${want.metadata.name}`;
    const pending = this.pendingWrites.get(objectKey);
    if (pending && pending.rv === (live ? (metaOf(live).resourceVersion ?? '') : '') && Date.now() - pending.at < PENDING_TTL_MS) {
      return { obj: live, wrote: true }; // our write is on its way to the cache; its watch event re-queues the owner
    }
    this.pendingWrites.delete(objectKey);

    if (!live) {
      try {
        const created = await this.deps.client.request<KubeObject>('POST', resourcePath(type, ns), { body: want });
        this.pendingWrites.set(objectKey, { rv: '', at: Date.now() });
        this.deps.log.info({ namespace: ns, name: owner.name, kind }, 'created');
        return { obj: created, wrote: true };
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        if (rule.createOnly) return { wrote: false };
        // Not in our label-filtered cache but there: someone else's object, or our cache is behind.
        live = await this.deps.client.request<KubeObject>('GET', resourcePath(type, ns, want.metadata.name));
      }
    }
    const meta = metaOf(live);
    if (meta.deletionTimestamp) return { obj: live, wrote: false };
    const ours = meta.ownerReferences?.find((r) => r.controller)?.uid === owner.uid;
    // Adopt what we made for an earlier incarnation of the owner; never take over someone else's object.
    if (!ours && meta.labels?.['app.kubernetes.io/managed-by'] !== MANAGED_BY) throw new OwnershipConflict(kind, want.metadata.name);
    if (rule.createOnly) {
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

    const updated = await this.deps.client.request<KubeObject>('PUT', resourcePath(type, ns, want.metadata.name), {
      body: updateBody(want, live, rule.keepFromLive),
    });
    this.pendingWrites.set(objectKey, { rv: meta.resourceVersion ?? '', at: Date.now() });
    this.deps.log.info({ namespace: ns, name: owner.name, kind }, 'updated (drift or spec change)');
    return { obj: updated, wrote: true };
  }

  /** An owned object as it is now: from its informer cache, or (no cache) one GET by name, Secret data dropped at once. */
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

  /** Deletes the owner's objects of a kind with these names (those it controls, not already going); true when it deleted any. */
  private async prune(owner: ObjectMeta, kind: OwnedKind, cache: Cache<KubeObject> | undefined, names: readonly string[]): Promise<boolean> {
    let deleted = false;
    for (const name of names) {
      const obj = await this.live(kind, cache, owner.namespace, name);
      if (!obj) continue;
      const meta = metaOf(obj);
      if (meta.deletionTimestamp || !meta.ownerReferences?.some((r) => r.controller && r.uid === owner.uid)) continue;
      try {
        await this.deps.client.request('DELETE', resourcePath(Types[kind], owner.namespace, obj.metadata.name));
        deleted = true;
        this.deps.log.info({ namespace: owner.namespace, name: owner.name, kind, object: obj.metadata.name }, 'pruned');
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return deleted;
  }
}

/** The full desired object for a PUT, keeping what others legitimately own on the live one (labels, annotations, `keep`). */
function updateBody(want: Planned, live: KubeObject, keep: readonly string[]): KubeObject {
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
  const spec = { ...(body.spec as Record<string, unknown>) };
  for (const field of keep) if (spec[field] === undefined && liveSpec[field] !== undefined) spec[field] = liveSpec[field];
  body.spec = spec;
  return body;
}
