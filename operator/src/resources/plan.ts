// CR + operator config -> the objects that should exist for it, the Secrets it relies on and what status reports.
// Pure: no I/O, randomness injected.
import type { HyperGenModel, ModelAccess } from '../api/types.js';
import { DEPLOYMENT_KEEPS_FROM_LIVE, planDeployment } from './deployment.js';
import { ingressURL, planIngress } from './ingress.js';
import { planCachePvc } from './pvc.js';
import { apiKeyRef, planApiKeySecret, planPeerKeySecret } from './secret.js';
import { planService, SERVICE_KEEPS_FROM_LIVE, serviceURL } from './service.js';
import { modelSource } from './source.js';
import { apiKeySecretName, cachePvcName, peerKeySecretName, type Planned } from './meta.js';
import type { PlanConfig } from './plan-config.js';

export type { PlanConfig } from './plan-config.js';

/** An object as the API returns it (informer caches, responses): plain JSON. Planned objects are typed (Planned). */
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

/** How the applier writes a kind: created once and never updated, or updated keeping these spec fields as they are live. */
export interface ApplyRule {
  createOnly: boolean;
  /** Spec fields the plan leaves unset that an update takes from the live object (each planner declares its own). */
  keepFromLive: readonly string[];
}
export const APPLY_RULES: Record<OwnedKind, ApplyRule> = {
  // A generated key must not change.
  Secret: { createOnly: true, keepFromLive: [] },
  // Claims are immutable.
  PersistentVolumeClaim: { createOnly: true, keepFromLive: [] },
  Deployment: { createOnly: false, keepFromLive: DEPLOYMENT_KEEPS_FROM_LIVE },
  Service: { createOnly: false, keepFromLive: SERVICE_KEEPS_FROM_LIVE },
  Ingress: { createOnly: false, keepFromLive: [] },
};

/** A Secret the CR names (not one the operator makes): it must exist with its key before pods can use it. */
export interface RequiredSecret {
  name: string;
  key: string;
  /** The CR field that names it, for status messages. */
  field: string;
}

export interface Plan {
  /** The objects of each kind, by kind in apply order; a kind with none is absent. */
  objects: Map<OwnedKind, Planned[]>;
  requiredSecrets: RequiredSecret[];
  access: ModelAccess;
}

export function plan(cr: HyperGenModel, config: PlanConfig, randomBytes: (n: number) => Buffer): Plan {
  const apiKey = apiKeyRef(cr);
  const source = modelSource(cr);
  const objects = new Map<OwnedKind, Planned[]>();
  const add = (kind: OwnedKind, obj: Planned | undefined) => obj && objects.set(kind, [...(objects.get(kind) ?? []), obj]);
  add('Secret', planApiKeySecret(cr, randomBytes));
  add('Secret', planPeerKeySecret(cr, randomBytes));
  add('PersistentVolumeClaim', planCachePvc(cr));
  add('Deployment', planDeployment(cr, config, { apiKey, source }));
  add('Service', planService(cr));
  add('Ingress', planIngress(cr));

  const requiredSecrets: RequiredSecret[] = [];
  if (!apiKey.generated) requiredSecrets.push({ name: apiKey.name, key: apiKey.key, field: 'spec.apiKey.secretRef' });
  if (source.kind === 'pull' && source.tokenSecretRef) requiredSecrets.push({ ...source.tokenSecretRef, field: 'spec.source.tokenSecretRef' });

  const ingress = ingressURL(cr);
  const access: ModelAccess = { url: serviceURL(cr), ...(ingress ? { ingressURL: ingress } : {}), apiKeySecret: { name: apiKey.name, key: apiKey.key } };
  return { objects, requiredSecrets, access };
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
