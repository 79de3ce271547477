// The generated Secrets: the API key (planned only when the CR names no Secret of its own) and the replicas' peer
// key. The applier creates each once and never overwrites it, so the random bytes here only matter the first time.
import type { V1Secret } from '@kubernetes/client-node';
import type { HyperGenModel } from '../api/types.js';
import { apiKeySecretName, GENERATED_KEY, objectMeta, PEER_KEY, peerKeySecretName, type Planned } from './meta.js';

export const API_KEY_PREFIX = 'sk-hg-';

/** `randomBytes` is injected (crypto.randomBytes in production) so planning stays pure and testable. */
export function generateApiKey(randomBytes: (n: number) => Buffer): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** Where the server's key lives: the CR's own Secret, or the generated one. */
export interface ApiKeyRef {
  name: string;
  key: string;
  generated: boolean;
}

export function apiKeyRef(cr: HyperGenModel): ApiKeyRef {
  const ref = cr.spec.apiKey?.secretRef;
  if (ref) return { name: ref.name, key: ref.key ?? GENERATED_KEY, generated: false };
  return { name: apiKeySecretName(cr), key: GENERATED_KEY, generated: true };
}

/** Absent when the CR names a Secret of its own (spec.apiKey.secretRef). */
export function planApiKeySecret(cr: HyperGenModel, randomBytes: (n: number) => Buffer): Planned<V1Secret> | undefined {
  if (cr.spec.apiKey?.secretRef) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: objectMeta(cr, apiKeySecretName(cr), 'api-key'),
    type: 'Opaque',
    data: { [GENERATED_KEY]: Buffer.from(generateApiKey(randomBytes)).toString('base64') },
  };
}

/**
 * The key the model's replicas share so that any of them can serve a url image another one made (the image's name
 * is signed with its owner's pod address). Always planned, created once like the API key; never leaves the pods.
 */
export function planPeerKeySecret(cr: HyperGenModel, randomBytes: (n: number) => Buffer): Planned<V1Secret> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: objectMeta(cr, peerKeySecretName(cr), 'peer-key'),
    type: 'Opaque',
    data: { [PEER_KEY]: Buffer.from(randomBytes(32).toString('base64url')).toString('base64') },
  };
}
