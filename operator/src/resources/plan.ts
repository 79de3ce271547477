// CR + operator config -> the objects that should exist for it. Pure: no I/O, randomness injected.
import type { HyperGenModel } from '../api/types.js';
import { planDeployment } from './deployment.js';
import { planIngress } from './ingress.js';
import { planCachePvc } from './pvc.js';
import { planApiKeySecret, planPeerKeySecret } from './secret.js';
import { planService } from './service.js';
import { apiKeySecretName, cachePvcName, peerKeySecretName } from './meta.js';
import type { PlanConfig } from './plan-config.js';

export type { PlanConfig } from './plan-config.js';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

/** The owned kinds, in apply order (the Secret and claim before the pods that mount them). */
export const OWNED_KINDS = ['Secret', 'PersistentVolumeClaim', 'Deployment', 'Service', 'Ingress'] as const;
export type OwnedKind = (typeof OWNED_KINDS)[number];
/**
 * Kinds the operator reads through informers (list+watch). Secrets are not among them: the operator reads a Secret
 * only by name (its own generated ones, and those a CR references), so its RBAC needs no list or watch on Secrets
 * and it cannot enumerate or bulk-read them.
 */
export const CACHED_KINDS = ['PersistentVolumeClaim', 'Deployment', 'Service', 'Ingress'] as const satisfies readonly OwnedKind[];
export type CachedKind = (typeof CACHED_KINDS)[number];
/** Kinds created once and never updated (a generated key must not change; claims are immutable). */
export const CREATE_ONLY: ReadonlySet<OwnedKind> = new Set(['Secret', 'PersistentVolumeClaim']);

export interface Plan {
  /** The objects of each kind, by kind in apply order; a kind with none is absent. */
  objects: Map<OwnedKind, KubeObject[]>;
}

export function plan(cr: HyperGenModel, config: PlanConfig, randomBytes: (n: number) => Buffer): Plan {
  const objects = new Map<OwnedKind, KubeObject[]>();
  const add = (kind: OwnedKind, obj: KubeObject | undefined) => obj && objects.set(kind, [...(objects.get(kind) ?? []), obj]);
  add('Secret', planApiKeySecret(cr, randomBytes));
  add('Secret', planPeerKeySecret(cr, randomBytes));
  add('PersistentVolumeClaim', planCachePvc(cr));
  add('Deployment', planDeployment(cr, config));
  add('Service', planService(cr));
  add('Ingress', planIngress(cr));
  return { objects };
}

/** Every name the operator may give an object of each kind for this CR: what prune looks for when the plan lacks it. */
export function ownedNames(cr: HyperGenModel): Record<OwnedKind, string[]> {
  const name = cr.metadata.name;
  return {
    Secret: [apiKeySecretName(cr), peerKeySecretName(cr)],
    PersistentVolumeClaim: [cachePvcName(cr)],
    Deployment: [name],
    Service: [name],
    Ingress: [name],
  };
}
