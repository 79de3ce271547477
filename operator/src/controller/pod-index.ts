// The pods of each HyperGenModel, kept up to date from the pod informer's events: a reconcile reads its own pods
// instead of filtering every pod of the namespace, which is quadratic in a namespace of many models.
import { INSTANCE_LABEL, MANAGED_BY } from '../resources/meta.js';
import type { KubeObject } from '../resources/plan.js';

export class PodIndex {
  /** namespace/model -> namespace/pod -> pod */
  private readonly byModel = new Map<string, Map<string, KubeObject>>();
  /** namespace/pod -> namespace/model, to move a pod whose label changed */
  private readonly modelOf = new Map<string, string>();

  update(verb: 'add' | 'update' | 'delete', pod: KubeObject): void {
    const namespace = pod.metadata.namespace ?? '';
    const id = `${namespace}/${pod.metadata.name}`;
    const previous = this.modelOf.get(id);
    if (previous !== undefined) {
      const pods = this.byModel.get(previous);
      pods?.delete(id);
      if (pods?.size === 0) this.byModel.delete(previous);
      this.modelOf.delete(id);
    }
    const labels = pod.metadata.labels ?? {};
    const model = labels[INSTANCE_LABEL];
    if (verb === 'delete' || !model || labels['app.kubernetes.io/managed-by'] !== MANAGED_BY) return;
    const key = `${namespace}/${model}`;
    const pods = this.byModel.get(key) ?? new Map<string, KubeObject>();
    pods.set(id, pod);
    this.byModel.set(key, pods);
    this.modelOf.set(id, key);
  }

  /** The pods labelled as the named model's. */
  of(namespace: string, model: string): KubeObject[] {
    return [...(this.byModel.get(`${namespace}/${model}`)?.values() ?? [])];
  }
}
