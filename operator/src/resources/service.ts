// CR -> its ClusterIP Service (port 80 -> the server's "http" port), the in-cluster /v1 URL behind it, and
// the spec fields an update keeps from the live Service. Pure.
import type { V1Service, V1ServiceSpec } from '@kubernetes/client-node';
import type { HyperGenModel } from '../api/types.js';
import { objectMeta, selectorLabels, type Planned } from './meta.js';

export const SERVICE_PORT = 80;

/** Allocated by the API server on create and immutable after: an update keeps them as they are on the live Service. */
export const SERVICE_KEEPS_FROM_LIVE = ['clusterIP', 'clusterIPs', 'ipFamilies', 'ipFamilyPolicy'] as const satisfies readonly (keyof V1ServiceSpec)[];

/** ClusterIP Service: port 80 (http) -> the server's named port. */
export function planService(cr: HyperGenModel): Planned<V1Service> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(cr, cr.metadata.name, 'server'),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(cr),
      ports: [{ name: 'http', port: SERVICE_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

export const serviceURL = (cr: HyperGenModel) => `http://${cr.metadata.name}.${cr.metadata.namespace}.svc.cluster.local/v1`;
