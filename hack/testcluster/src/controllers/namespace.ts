// The namespace lifecycle controller: a namespace being deleted -> every namespaced object in it deleted (background),
// then the namespace itself once it is empty and has no finalizers.
import type { StoredEvent } from '../store.js';
import { Controller } from './controller.js';

/** The namespace lifecycle controller: deleting a namespace deletes its content, then the namespace itself. */
export class NamespaceController extends Controller {
  protected onEvent(ev: StoredEvent): void {
    if (ev.storage === '/namespaces' && ev.type !== 'DELETED' && ev.obj.metadata.deletionTimestamp) this.queue.add(ev.obj.metadata.name);
    else if (ev.type === 'DELETED' && ev.obj.metadata.namespace) {
      const ns = this.store.get('/namespaces', undefined, ev.obj.metadata.namespace);
      if (ns?.metadata.deletionTimestamp) this.queue.add(ns.metadata.name);
    }
  }

  reconcile(name: string): void {
    const reg = this.api.registry;
    const nsDef = reg.find('', 'v1', 'namespaces')!;
    const ns = this.api.getStored(nsDef, undefined, name);
    if (!ns?.metadata.deletionTimestamp) return;
    let remaining = 0;
    for (const storage of this.api.store.storages()) {
      const def = reg.byStorage(storage);
      if (!def?.namespaced) continue;
      for (const o of this.api.store.list(storage, name)) {
        remaining++;
        if (!o.metadata.deletionTimestamp) this.api.delete(def, name, o.metadata.name, { propagationPolicy: 'Background' });
      }
    }
    if (remaining === 0 && (ns.metadata.finalizers ?? []).length === 0) this.api.finalize(nsDef, ns);
  }
}
