// CR -> its ClusterIP Service (port 80 -> the server's "http" port) and the in-cluster /v1 URL behind it. Pure.
import type { HyperGenModel } from '../api/types.js';
import { objectMeta, selectorLabels } from './meta.js';

export const SERVICE_PORT = 80;

/** ClusterIP Service: port 80 (http) -> the server's named port. */
export function planService(cr: HyperGenModel) {
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
