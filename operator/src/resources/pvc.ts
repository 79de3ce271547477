// CR -> the model-cache PersistentVolumeClaim, planned only when spec.cache.pvc asks for one by size. Pure.
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { HyperGenModel } from '../api/types.js';
import { cachePvcName, objectMeta, type Planned } from './meta.js';

/** The model cache claim, when the CR asks for one by size (an existing claimName is only mounted). */
export function planCachePvc(cr: HyperGenModel): Planned<V1PersistentVolumeClaim> | undefined {
  const pvc = cr.spec.cache?.pvc;
  if (!pvc || pvc.claimName || pvc.size === undefined) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: objectMeta(cr, cachePvcName(cr), 'model-cache'),
    spec: {
      accessModes: [pvc.accessMode ?? 'ReadWriteOnce'],
      resources: { requests: { storage: String(pvc.size) } },
      ...(pvc.storageClassName ? { storageClassName: pvc.storageClassName } : {}),
    },
  };
}
