// The pod runner's Deployment controller: Deployments -> pods owned directly (no ReplicaSets), rolled out with surge
// and maxUnavailable 0, and the Deployment status and conditions the operator reads.
import { createHash } from 'node:crypto';
import type { ObjectApi } from '../api.js';
import { randomSuffix } from '../api.js';
import { recordEvent } from '../controllers/events.js';
import { Controller } from '../controllers/controller.js';
import { ApiError } from '../errors.js';
import { labelSelectorFromObject, matchesLabels } from '../selectors.js';
import type { Store, StoredEvent } from '../store.js';
import { type JsonObject, type KubeObject, asNumber, at, deepEqual, nowTime, objectOr, objectsOf } from '../types.js';

const isReady = (p: KubeObject) => objectsOf(at(p, 'status', 'conditions')).some((c) => c.type === 'Ready' && c.status === 'True');

/**
 * Deployments -> Pods, for the pod runner. Pods are owned by the Deployment directly (no ReplicaSet layer) and carry
 * `pod-template-hash`; a template change surges new pods and removes the old ones once the new ones are ready
 * (RollingUpdate with maxUnavailable 0). Status: replicas, updatedReplicas, readyReplicas, availableReplicas,
 * observedGeneration and the Available/Progressing conditions, as the operator reads them.
 */
export class DeploymentController extends Controller {
  /** Pod names by the uid of the Deployment that owns them, so that a reconcile reads its pods without a scan. */
  private readonly podsOf = new Map<string, Set<string>>();

  constructor(
    api: ObjectApi,
    store: Store,
    onError: (key: string, e: unknown) => void,
  ) {
    super(api, store, onError);
    store.scan('/pods', (p) => this.index(p, true));
    for (const d of store.list('apps/deployments')) this.queue.add(`${d.metadata.namespace}/${d.metadata.name}`);
  }

  private index(pod: KubeObject, present: boolean): void {
    for (const r of pod.metadata.ownerReferences ?? []) {
      if (r.kind !== 'Deployment') continue;
      const names = this.podsOf.get(r.uid) ?? new Set<string>();
      if (present) names.add(pod.metadata.name);
      else names.delete(pod.metadata.name);
      if (names.size > 0) this.podsOf.set(r.uid, names);
      else this.podsOf.delete(r.uid);
    }
  }

  protected onEvent(ev: StoredEvent): void {
    const m = ev.obj.metadata;
    if (ev.storage === 'apps/deployments') this.queue.add(`${m.namespace}/${m.name}`);
    else if (ev.storage === '/pods') {
      if (ev.prev) this.index(ev.prev, false);
      this.index(ev.obj, ev.type !== 'DELETED');
      for (const r of [...(ev.prev?.metadata.ownerReferences ?? []), ...(m.ownerReferences ?? [])]) if (r.kind === 'Deployment') this.queue.add(`${m.namespace}/${r.name}`);
    }
  }

  private podsOwnedBy(dep: KubeObject): KubeObject[] {
    const names = [...(this.podsOf.get(dep.metadata.uid ?? '') ?? [])].sort();
    return names.map((n) => this.store.get('/pods', dep.metadata.namespace, n)).filter((p): p is KubeObject => p !== undefined);
  }

  reconcile(key: string): void {
    const [ns, name] = key.split('/') as [string, string];
    const depDef = this.api.registry.find('apps', 'v1', 'deployments')!;
    const podDef = this.api.registry.find('', 'v1', 'pods')!;
    const dep = this.api.getStored(depDef, ns, name);
    if (!dep || dep.metadata.deletionTimestamp) return;
    const spec = objectOr(dep.spec);
    const template = objectOr(spec.template);
    const hash = createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 10);
    const selector = labelSelectorFromObject(spec.selector) ?? [];
    const owned = this.podsOwnedBy(dep).filter((p) => matchesLabels(selector, p.metadata.labels));
    const live = owned.filter((p) => !p.metadata.deletionTimestamp);
    const current = live.filter((p) => p.metadata.labels?.['pod-template-hash'] === hash);
    const old = live.filter((p) => p.metadata.labels?.['pod-template-hash'] !== hash);
    const desired = asNumber(spec.replicas) ?? 1;
    const del = (p: KubeObject) => {
      try {
        this.api.delete(podDef, ns, p.metadata.name, {});
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 404)) throw e;
      }
    };
    for (let i = current.length; i < desired; i++) {
      const podName = `${name}-${hash}-${randomSuffix(5)}`;
      this.api.create(
        podDef,
        ns,
        {
          metadata: {
            ...objectOr(template.metadata),
            name: podName,
            namespace: ns,
            labels: { ...objectOr(at(template, 'metadata', 'labels')), 'pod-template-hash': hash },
            ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: dep.metadata.uid, controller: true, blockOwnerDeletion: true }],
          },
          spec: structuredClone(template.spec),
        },
        { fieldManager: 'kube-controller-manager' },
      );
      recordEvent(this.api, { ...dep, apiVersion: 'apps/v1', kind: 'Deployment' }, 'Normal', 'SuccessfulCreate', `Created pod: ${podName}`, 'deployment-controller');
    }
    // Scale down: unready and newest first.
    const surplus = [...current].sort((a, b) => Number(isReady(a)) - Number(isReady(b)) || String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp)));
    surplus.slice(0, Math.max(0, current.length - desired)).forEach(del);
    const readyCurrent = current.filter(isReady).length;
    if (old.length && readyCurrent >= desired) old.forEach(del);

    const after = this.podsOwnedBy(dep).filter((p) => !p.metadata.deletionTimestamp);
    const ready = after.filter(isReady).length;
    const updated = after.filter((p) => p.metadata.labels?.['pod-template-hash'] === hash).length;
    const prevConds = objectsOf(at(dep, 'status', 'conditions'));
    const condition = (type: string, ok: boolean, reason: string, message: string): JsonObject => {
      const prev = prevConds.find((c) => c.type === type);
      const now = nowTime();
      return { type, status: ok ? 'True' : 'False', lastUpdateTime: prev?.status === (ok ? 'True' : 'False') ? prev.lastUpdateTime : now, lastTransitionTime: prev?.status === (ok ? 'True' : 'False') ? prev.lastTransitionTime : now, reason, message };
    };
    const complete = updated === desired && ready >= desired && after.length === desired;
    const status = {
      observedGeneration: dep.metadata.generation,
      replicas: after.length,
      updatedReplicas: updated,
      readyReplicas: ready,
      availableReplicas: ready,
      ...(after.length - ready > 0 ? { unavailableReplicas: after.length - ready } : {}),
      conditions: [
        condition('Available', ready >= desired, ready >= desired ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable', ready >= desired ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.'),
        condition('Progressing', true, complete ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated', complete ? `ReplicaSet "${name}-${hash}" has successfully progressed.` : `ReplicaSet "${name}-${hash}" is progressing.`),
      ],
    };
    const strip = (s: JsonObject) => ({ ...s, conditions: objectsOf(s.conditions).map((c) => ({ ...c, lastUpdateTime: undefined, lastTransitionTime: undefined })) });
    if (!deepEqual(strip(objectOr(dep.status)), strip(status))) this.api.update(depDef, ns, name, { ...dep, status }, { fieldManager: 'kube-controller-manager', subresource: 'status' });
  }
}
