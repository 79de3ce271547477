// CR -> its Ingress (only when spec.ingress is enabled with a host) and the external /v1 URL that Ingress serves. Pure.
import type { V1Ingress } from '@kubernetes/client-node';
import type { HyperGenModel } from '../api/types.js';
import { nonEmpty, objectMeta, type Planned } from './meta.js';

/** Ingress to the Service, only when spec.ingress.enabled (the CRD requires a host then). */
export function planIngress(cr: HyperGenModel): Planned<V1Ingress> | undefined {
  const ingress = cr.spec.ingress;
  if (!ingress?.enabled || !ingress.host) return undefined;
  const secretName = ingress.tls?.secretName;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: objectMeta(cr, cr.metadata.name, 'server', nonEmpty(ingress.annotations)),
    spec: {
      ...(ingress.className ? { ingressClassName: ingress.className } : {}),
      ...(secretName ? { tls: [{ hosts: [ingress.host], secretName }] } : {}),
      rules: [
        {
          host: ingress.host,
          http: {
            paths: [
              {
                path: ingress.path ?? '/',
                pathType: 'Prefix',
                backend: { service: { name: cr.metadata.name, port: { name: 'http' } } },
              },
            ],
          },
        },
      ],
    },
  };
}

export function ingressURL(cr: HyperGenModel): string | undefined {
  const ingress = cr.spec.ingress;
  if (!ingress?.enabled || !ingress.host) return undefined;
  const scheme = ingress.tls?.secretName ? 'https' : 'http';
  return `${scheme}://${ingress.host}${(ingress.path ?? '/').replace(/\/+$/, '')}/v1`;
}
