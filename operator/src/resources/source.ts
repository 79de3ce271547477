// Where a HyperGenModel's pipeline comes from, and how the pod gets it.
import type { HyperGenModel } from '../api/types.js';

export type ModelSource =
  /** Downloaded by the `hypergen pull` init container into the model volume. */
  | { kind: 'pull'; uri: string; tokenSecretRef?: { name: string; key: string } }
  /** Already on a claim: mounted read-only, nothing to download. */
  | { kind: 'pvc'; claimName: string; path: string };

export function modelSource(cr: HyperGenModel): ModelSource {
  const source = cr.spec.source ?? {};
  const uri = source.uri ?? `hf://${cr.spec.model}`;
  if (uri.startsWith('pvc://')) {
    const [claimName = '', ...rest] = uri.slice('pvc://'.length).split('/');
    return { kind: 'pvc', claimName, path: rest.filter(Boolean).join('/') };
  }
  const revision = source.revision;
  const withRevision = uri.startsWith('hf://') && revision && !uri.includes('@') ? `${uri}@${revision}` : uri;
  const ref = source.tokenSecretRef;
  return { kind: 'pull', uri: withRevision, ...(ref ? { tokenSecretRef: { name: ref.name, key: ref.key ?? 'token' } } : {}) };
}
