// One reconcile of one HyperGenModel: check the Secrets it names, plan, apply each owned kind in order (apply.ts:
// against the informer caches, so an unchanged CR costs no writes), then write status only when it changed.
import type { Logger } from 'pino';
import { Reason, type HyperGenModel, type HyperGenModelStatus } from '../api/types.js';
import { isNotFound, resourcePath, Types, type KubeClient } from '../kube/client.js';
import { canonicalJson, metaTime } from '../resources/meta.js';
import { OWNED_KINDS, ownedNames, plan, type CachedKind, type KubeObject, type PlanConfig, type RequiredSecret } from '../resources/plan.js';
import { computeStatus, statusEqual, transitionEvents, type ObservedDeployment, type ObservedPod, type Problem } from '../status/status.js';
import { Applier, OwnershipConflict, type ApplyRejected, type Cache } from './apply.js';
import type { EventRecorder } from './events.js';

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

/** An object the applier could not write, in words fit for status. */
const failureProblem = (failure: OwnershipConflict | ApplyRejected): Problem => ({
  reason: failure instanceof OwnershipConflict ? Reason.ResourceConflict : Reason.ApplyFailed,
  message: failure.message,
});

export class Reconciler {
  private readonly applier: Applier;
  /** CR key -> CR resourceVersion and status JSON of our last status write. */
  private readonly pendingStatus = new Map<string, { rv: string; json: string }>();

  constructor(private readonly deps: ReconcilerDeps) {
    this.applier = new Applier({ client: deps.client, log: deps.log });
  }

  /** The watch saw this object: the cache is current for it again. */
  observed(kind: string, namespace: string, name: string): void {
    this.applier.observed(kind, namespace, name);
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
    const planned = plan(cr, this.deps.config, this.deps.randomBytes);
    const problem = await this.checkSecrets(cr, planned.requiredSecrets);
    const names = ownedNames(cr);
    let conflict: Problem | undefined;
    let deployment: KubeObject | undefined;
    let wrote = false;
    for (const kind of OWNED_KINDS) {
      const result = await this.applier.applyKind(cr.metadata, kind, planned.objects.get(kind) ?? [], {
        cache: kind === 'Secret' ? undefined : this.deps.caches.owned[kind],
        names: names[kind],
        // A missing Secret would only give pods that cannot start: hold the first rollout until it exists.
        holdCreate: kind === 'Deployment' && problem !== undefined,
      });
      wrote ||= result.awaitingWatch;
      conflict ??= result.failures[0] && failureProblem(result.failures[0]);
      if (kind === 'Deployment') deployment = result.objects[0];
    }
    // Our writes come back as watch events that reconcile this CR again, with the server's view of what we wrote:
    // status is written then, once, instead of now and again then.
    if (wrote) return 'done';

    const pods = this.deps.caches.pods.of(namespace, name);
    const now = this.deps.now();
    const status = computeStatus(
      cr,
      planned.access,
      { deployment: deployment as ObservedDeployment | undefined, pods: pods as unknown as ObservedPod[], problem: problem ?? conflict },
      metaTime(now),
    );
    await this.writeStatus(cr, status, now);
    return problem || conflict ? 'retry' : 'done';
  }

  /** The Secrets the CR names must exist with their key; returns what is wrong in words fit for status. */
  private async checkSecrets(cr: HyperGenModel, refs: readonly RequiredSecret[]): Promise<Problem | undefined> {
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
