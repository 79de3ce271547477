// Seam: a HyperGenModel's replica count through its scale subresource (what `kubectl scale` and HPAs use), so every
// writer goes through spec.replicas and the operator's reconcile carries it to the Deployment. Tests substitute their own.
import { isConflict, resourcePath, Types, type KubeClient } from '../kube/client.js';

export interface ScaleRef {
  namespace: string;
  name: string;
}

export interface Scale {
  replicas: number;
  resourceVersion: string;
}

export interface ScaleClient {
  get(ref: ScaleRef): Promise<Scale>;
  /** Writes spec.replicas; with resourceVersion, only if the object has not changed since (else a 409 ApiError). */
  set(ref: ScaleRef, replicas: number, resourceVersion?: string): Promise<void>;
}

interface ScaleObject {
  metadata: { resourceVersion?: string };
  spec?: { replicas?: number };
}

export class KubeScaleClient implements ScaleClient {
  constructor(private readonly client: KubeClient) {}

  private path(ref: ScaleRef) {
    return resourcePath(Types.HyperGenModel, ref.namespace, ref.name, 'scale');
  }

  async get(ref: ScaleRef): Promise<Scale> {
    const s = await this.client.request<ScaleObject>('GET', this.path(ref));
    return { replicas: s.spec?.replicas ?? 0, resourceVersion: s.metadata.resourceVersion ?? '' };
  }

  async set(ref: ScaleRef, replicas: number, resourceVersion?: string): Promise<void> {
    await this.client.request('PUT', this.path(ref), {
      body: {
        apiVersion: 'autoscaling/v1',
        kind: 'Scale',
        metadata: { name: ref.name, namespace: ref.namespace, ...(resourceVersion ? { resourceVersion } : {}) },
        spec: { replicas },
      },
    });
  }
}

/**
 * Raises replicas from 0 to `replicas`, leaving any other count alone (someone already scaled it). Returns whether
 * this call made the change. A concurrent writer (409) makes it read again.
 */
export async function scaleUpFromZero(scales: ScaleClient, ref: ScaleRef, replicas: number): Promise<boolean> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await scales.get(ref);
    if (current.replicas > 0) return false;
    try {
      await scales.set(ref, replicas, current.resourceVersion);
      return true;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }
  return false;
}
