// The CRD controller (apiextensions-apiserver's part): registers a CRD's resources, sets NamesAccepted/Established and
// storedVersions, and on deletion removes every custom resource before dropping its finalizer.
import type { StoredEvent } from '../store.js';
import { type JsonObject, arrayOr, asString, at, deepEqual, nowTime, objectOr, objectsOf } from '../types.js';
import { Controller } from './controller.js';

const CRD_STORAGE = 'apiextensions.k8s.io/customresourcedefinitions';
const CLEANUP = 'customresourcecleanup.apiextensions.k8s.io';

/**
 * What apiextensions-apiserver does for a CRD: serve its resources, set NamesAccepted/Established, and on deletion
 * remove every custom resource before letting the CRD go.
 */
export class CrdController extends Controller {
  protected onEvent(ev: StoredEvent): void {
    if (ev.storage === CRD_STORAGE) this.queue.add(ev.obj.metadata.name);
    else if (ev.type === 'DELETED') {
      const crdName = ev.storage.replace(/^([^/]+)\/(.+)$/, '$2.$1');
      if (this.api.registry.hasCrd(crdName)) this.queue.add(crdName);
    }
  }

  private def() {
    return this.api.registry.find('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')!;
  }

  reconcile(name: string): void {
    const def = this.def();
    const crd = this.api.getStored(def, undefined, name);
    const reg = this.api.registry;
    if (!crd) {
      reg.removeCrd(name);
      return;
    }
    const conditionsOf = (): JsonObject[] => objectsOf(at(crd, 'status', 'conditions'));
    if (crd.metadata.deletionTimestamp) {
      if (!conditionsOf().some((c) => c.type === 'Terminating' && c.status === 'True')) {
        const terminating = { type: 'Terminating', status: 'True', lastTransitionTime: nowTime(), reason: 'InstanceDeletionInProgress', message: 'CustomResource deletion is in progress' };
        const conditions = [...conditionsOf().filter((c) => c.type !== 'Terminating'), terminating];
        // The status write comes back as an event: cleanup continues from the updated CRD.
        this.api.update(def, undefined, name, { ...crd, status: { ...objectOr(crd.status), conditions } }, { fieldManager: 'kube-apiserver', subresource: 'status' });
        return;
      }
      const storage = `${at(crd, 'spec', 'group')}/${at(crd, 'spec', 'names', 'plural')}`;
      const crDef = reg.byStorage(storage);
      const remaining = crDef ? this.api.store.list(storage) : [];
      for (const o of remaining) if (!o.metadata.deletionTimestamp) this.api.delete(crDef!, o.metadata.namespace, o.metadata.name, {});
      const finalizers = crd.metadata.finalizers ?? [];
      if (remaining.length === 0 && finalizers.includes(CLEANUP)) {
        reg.removeCrd(name);
        const next = { ...crd, metadata: { ...crd.metadata, finalizers: finalizers.filter((f: string) => f !== CLEANUP) } };
        this.api.update(def, undefined, name, next, { fieldManager: 'kube-apiserver' });
      }
      return;
    }
    reg.setCrd(crd);
    const now = nowTime();
    const specNames = objectOr(at(crd, 'spec', 'names'));
    const kind = String(specNames.kind);
    const names = { ...specNames, singular: specNames.singular ?? kind.toLowerCase(), listKind: specNames.listKind ?? `${kind}List` };
    const cond = (type: string, reason: string, message: string): JsonObject => {
      const prev = conditionsOf().find((c) => c.type === type);
      return { type, status: 'True', lastTransitionTime: prev?.status === 'True' ? prev.lastTransitionTime : now, reason, message };
    };
    const storageVersion = asString(objectsOf(at(crd, 'spec', 'versions')).find((v) => v.storage)?.name);
    const status = {
      ...objectOr(crd.status),
      conditions: [cond('NamesAccepted', 'NoConflicts', 'no conflicts found'), cond('Established', 'InitialNamesAccepted', 'the initial names have been accepted')],
      acceptedNames: names,
      storedVersions: [...new Set([...arrayOr(at(crd, 'status', 'storedVersions')), storageVersion ?? null])],
    };
    if (!deepEqual(status, crd.status)) this.api.update(def, undefined, name, { ...crd, status }, { fieldManager: 'kube-apiserver', subresource: 'status' });
  }
}
