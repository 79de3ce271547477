// Names, labels and owner references shared by every object planned for a HyperGenModel.
import { createHash } from 'node:crypto';
import type { KubernetesObject, V1ObjectMeta } from '@kubernetes/client-node';
import { API_VERSION, KIND, type HyperGenModel } from '../api/types.js';

export const FIELD_MANAGER = 'hypergen-operator';
export const MANAGED_BY = 'hypergen-operator';
/** Every owned object carries this label; informers on owned kinds filter on it. */
export const MANAGED_SELECTOR = `app.kubernetes.io/managed-by=${MANAGED_BY}`;
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
export const HASH_ANNOTATION = 'hypergen.io/spec-hash';

export const apiKeySecretName = (cr: HyperGenModel) => `${cr.metadata.name}-api-key`;
export const cachePvcName = (cr: HyperGenModel) => `${cr.metadata.name}-model-cache`;
export const GENERATED_KEY = 'api-key';
/** The per-model key the replicas share to sign url image names (server --peer-key-file). */
export const peerKeySecretName = (cr: HyperGenModel) => `${cr.metadata.name}-peer-key`;
export const PEER_KEY = 'peer-key';

/** The pod selector: stable for the life of the CR (Deployment selectors are immutable). */
export function selectorLabels(cr: HyperGenModel): Record<string, string> {
  return { 'app.kubernetes.io/name': 'hypergen', [INSTANCE_LABEL]: cr.metadata.name };
}

export function commonLabels(cr: HyperGenModel, component: string): Record<string, string> {
  return { ...selectorLabels(cr), 'app.kubernetes.io/component': component, 'app.kubernetes.io/managed-by': MANAGED_BY };
}

export function selectorString(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: boolean;
  blockOwnerDeletion: boolean;
}

export function ownerReference(cr: HyperGenModel): OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: cr.metadata.name, uid: cr.metadata.uid ?? '', controller: true, blockOwnerDeletion: true };
}

/** The metadata of a planned object: always named, in the CR's namespace. */
export type PlannedMeta = V1ObjectMeta & { name: string; namespace: string };

/**
 * A planned object: a client-node model type (plain JSON fields, so a misspelled field fails to compile) with the
 * apiVersion, kind and metadata every write needs. Built as object literals, never as model class instances: what
 * goes on the wire is the literal as written.
 */
export type Planned<T extends KubernetesObject = KubernetesObject> = T & { apiVersion: string; kind: string; metadata: PlannedMeta };

export function objectMeta(cr: HyperGenModel, name: string, component: string, annotations?: Record<string, string>): PlannedMeta {
  return {
    name,
    namespace: cr.metadata.namespace,
    labels: commonLabels(cr, component),
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
    ownerReferences: [ownerReference(cr)],
  };
}

/** Key-order independent JSON, so the hash only changes when content does. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export const contentHash = (value: unknown) => createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);

/** Drops empty maps/lists so planned objects match what the API server stores. */
export function nonEmpty<T extends object>(value: T | undefined): T | undefined {
  if (value === undefined) return undefined;
  return Object.keys(value).length > 0 ? value : undefined;
}

/** metav1.Time: RFC 3339 in whole seconds, as the API server writes it. */
export const metaTime = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
