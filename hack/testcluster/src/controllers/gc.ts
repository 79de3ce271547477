// The test cluster's garbage collector: a dependent whose owners are all gone is deleted (background); orphan strips
// the dependents' owner references, then the owner's finalizer goes. No foreground deletion.
import { ApiError } from '../errors.js';
import type { ResourceDef } from '../resource.js';
import type { StoredEvent } from '../store.js';
import type { KubeObject } from '../types.js';
import { Controller } from './controller.js';

/**
 * The garbage collector: deletes dependents whose owners are gone (background) and strips owner references for
 * orphaning (orphan finalizer).
 */
export class GarbageCollector extends Controller {
  protected onEvent(ev: StoredEvent): void {
    const m = ev.obj.metadata;
    if (ev.type === 'DELETED') this.queue.add(`owner|${m.uid}`);
    else {
      if (m.deletionTimestamp && (m.finalizers ?? []).includes('orphan')) this.queue.add(`owner|${m.uid}`);
      if ((m.ownerReferences ?? []).length) this.queue.add(`dep|${ev.storage}|${m.namespace ?? ''}|${m.name}`);
    }
  }

  private dependents(uid: string): Array<{ def: ResourceDef; obj: KubeObject }> {
    const out: Array<{ def: ResourceDef; obj: KubeObject }> = [];
    for (const storage of this.store.storages()) {
      const def = this.api.registry.byStorage(storage);
      if (!def) continue;
      for (const o of this.store.list(storage, undefined, (x) => (x.metadata.ownerReferences ?? []).some((r) => r.uid === uid))) out.push({ def, obj: o });
    }
    return out;
  }

  private ignoreGone(f: () => void): void {
    try {
      f();
    } catch (e) {
      if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) throw e;
    }
  }

  reconcile(key: string): void {
    const [kind, a, b, c] = key.split('|');
    if (kind === 'dep') return this.checkDependent(a!, b!, c!);
    const uid = a!;
    const owner = this.store.getByUid(uid);
    const deps = this.dependents(uid);
    if (!owner) {
      for (const { def, obj } of deps) this.checkDependent(def.storage, obj.metadata.namespace ?? '', obj.metadata.name);
      return;
    }
    const ownerDef = this.api.registry.byStorage(owner.storage);
    if (!ownerDef || !owner.obj.metadata.deletionTimestamp) return;
    const fin = owner.obj.metadata.finalizers ?? [];
    if (fin.includes('orphan')) {
      for (const { def, obj } of deps) {
        const refs = (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
        this.ignoreGone(() => this.api.update(def, obj.metadata.namespace, obj.metadata.name, { ...obj, metadata: { ...obj.metadata, ownerReferences: refs.length ? refs : undefined } }, { fieldManager: 'generic-garbage-collector' }));
      }
      this.removeFinalizer(ownerDef, owner.obj, 'orphan');
    }
  }

  private removeFinalizer(def: ResourceDef, obj: KubeObject, f: string): void {
    const cur = this.store.get(def.storage, obj.metadata.namespace, obj.metadata.name);
    if (!cur) return;
    const fins = (cur.metadata.finalizers ?? []).filter((x) => x !== f);
    this.ignoreGone(() => this.api.update(def, cur.metadata.namespace, cur.metadata.name, { ...this.api.view(def, cur), metadata: { ...cur.metadata, finalizers: fins.length ? fins : undefined } }, { fieldManager: 'generic-garbage-collector' }));
  }

  /** Deletes a dependent whose owners all no longer exist (by uid, as the real collector verifies). */
  private checkDependent(storage: string, ns: string, name: string): void {
    const def = this.api.registry.byStorage(storage);
    const obj = this.store.get(storage, ns || undefined, name);
    if (!def || !obj || obj.metadata.deletionTimestamp) return;
    const refs = obj.metadata.ownerReferences ?? [];
    if (refs.length === 0) return;
    const alive = refs.filter((r) => this.store.getByUid(r.uid));
    if (alive.length > 0) {
      if (alive.length < refs.length) this.ignoreGone(() => this.api.update(def, ns || undefined, name, { ...this.api.view(def, obj), metadata: { ...obj.metadata, ownerReferences: alive } }, { fieldManager: 'generic-garbage-collector' }));
      return;
    }
    this.ignoreGone(() => this.api.delete(def, ns || undefined, name, { propagationPolicy: 'Background' }));
  }
}
