// client-node's generated model classes -> OpenAPI v3 schemas of the built-in types under upstream names, with the
// patch strategies, merge keys and list types that strategic merge patch and managedFields tracking read. Pure.
import * as k8s from '@kubernetes/client-node';
import type { JsonObject } from './types.js';

/**
 * OpenAPI v3 component schemas for the built-in types, derived from @kubernetes/client-node's generated models
 * (which mirror the upstream OpenAPI) plus the patch and list metadata that strategic merge patch and server-side
 * apply need. Names follow upstream (io.k8s.api.apps.v1.Deployment) so kubectl explain and apply read them as usual.
 */

interface Attr {
  baseName: string;
  type: string;
  format: string;
}
type ModelClass = { attributeTypeMap?: Attr[] };

const models = k8s as unknown as Record<string, ModelClass | undefined>;

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
const fixedNames: Record<string, string> = {
  V1ObjectMeta: `${META}ObjectMeta`,
  V1ListMeta: `${META}ListMeta`,
  V1LabelSelector: `${META}LabelSelector`,
  V1LabelSelectorRequirement: `${META}LabelSelectorRequirement`,
  V1OwnerReference: `${META}OwnerReference`,
  V1ManagedFieldsEntry: `${META}ManagedFieldsEntry`,
  V1Condition: `${META}Condition`,
  V1Status: `${META}Status`,
  V1StatusDetails: `${META}StatusDetails`,
  V1StatusCause: `${META}StatusCause`,
  V1DeleteOptions: `${META}DeleteOptions`,
  V1Preconditions: `${META}Preconditions`,
};
export const TIME = `${META}Time`;
export const MICROTIME = `${META}MicroTime`;
export const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
export const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
export const JSON_SCHEMA_PROPS = 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps';

/** Upstream package of each API group's types. */
const groupPackage: Record<string, string> = {
  '': 'io.k8s.api.core',
  apps: 'io.k8s.api.apps',
  'coordination.k8s.io': 'io.k8s.api.coordination',
  'networking.k8s.io': 'io.k8s.api.networking',
  'rbac.authorization.k8s.io': 'io.k8s.api.rbac',
  policy: 'io.k8s.api.policy',
  autoscaling: 'io.k8s.api.autoscaling',
  'apiextensions.k8s.io': 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions',
};

/** patchStrategy/patchMergeKey tags of the upstream Go types (strategic merge patch), by Class.field. */
const patchMeta: Record<string, { strategy: string; key?: string; listKeys?: string[] }> = {
  'V1ObjectMeta.finalizers': { strategy: 'merge' },
  'V1ObjectMeta.ownerReferences': { strategy: 'merge', key: 'uid' },
  'V1PodSpec.containers': { strategy: 'merge', key: 'name' },
  'V1PodSpec.initContainers': { strategy: 'merge', key: 'name' },
  'V1PodSpec.ephemeralContainers': { strategy: 'merge', key: 'name' },
  'V1PodSpec.volumes': { strategy: 'merge,retainKeys', key: 'name' },
  'V1PodSpec.imagePullSecrets': { strategy: 'merge', key: 'name' },
  'V1PodSpec.hostAliases': { strategy: 'merge', key: 'ip' },
  'V1PodSpec.topologySpreadConstraints': { strategy: 'merge', key: 'topologyKey', listKeys: ['topologyKey', 'whenUnsatisfiable'] },
  'V1PodSpec.schedulingGates': { strategy: 'merge', key: 'name' },
  'V1PodSpec.resourceClaims': { strategy: 'merge,retainKeys', key: 'name' },
  'V1Container.env': { strategy: 'merge', key: 'name' },
  'V1Container.ports': { strategy: 'merge', key: 'containerPort', listKeys: ['containerPort', 'protocol'] },
  'V1Container.volumeMounts': { strategy: 'merge', key: 'mountPath' },
  'V1Container.volumeDevices': { strategy: 'merge', key: 'devicePath' },
  'V1ServiceSpec.ports': { strategy: 'merge', key: 'port', listKeys: ['port', 'protocol'] },
  'V1ServiceAccount.secrets': { strategy: 'merge', key: 'name' },
  'V1DeploymentSpec.strategy': { strategy: 'retainKeys' },
  'V1DeploymentStatus.conditions': { strategy: 'merge', key: 'type' },
  'V1PodStatus.conditions': { strategy: 'merge', key: 'type' },
  'V1NodeStatus.conditions': { strategy: 'merge', key: 'type' },
  'V1NodeStatus.addresses': { strategy: 'merge', key: 'type' },
  'V1NodeSpec.taints': { strategy: 'merge', key: 'key' },
  'V1PodDisruptionBudgetStatus.conditions': { strategy: 'merge', key: 'type' },
  'V1NamespaceStatus.conditions': { strategy: 'merge', key: 'type' },
};

/** Lists field ownership treats as sets (x-kubernetes-list-type: set). */
const setLists = new Set(['V1ObjectMeta.finalizers']);

const versionOf = (cls: string): string => `v${/V(\d+(?:alpha\d+|beta\d+)?)/.exec(cls)?.[1] ?? '1'}`;

const shortName = (cls: string): string => cls.replace(/^[A-Za-z]*?V\d+(?:alpha\d+|beta\d+)?/, '');

export interface BuiltinSchemas {
  /** components.schemas entries */
  schemas: Record<string, JsonObject>;
  /** class name -> schema name */
  nameOf: Record<string, string>;
}

/**
 * Builds the schemas reachable from the given root classes. Each nested type is named after the package of the
 * first root (in the order given) that reaches it, as upstream mostly does.
 */
export function buildBuiltinSchemas(roots: Array<{ cls: string; group: string }>): BuiltinSchemas {
  const schemas: Record<string, JsonObject> = {
    [TIME]: { type: 'string', format: 'date-time' },
    [MICROTIME]: { type: 'string', format: 'date-time' },
    [INT_OR_STRING]: { type: 'string', format: 'int-or-string', 'x-kubernetes-int-or-string': true },
    [QUANTITY]: { type: 'string', 'x-kubernetes-int-or-string': true },
    [JSON_SCHEMA_PROPS]: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    'io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1': { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    'io.k8s.apimachinery.pkg.runtime.RawExtension': { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
  };
  const nameOf: Record<string, string> = { V1JSONSchemaProps: JSON_SCHEMA_PROPS };
  const queue: Array<{ cls: string; pkg: string }> = roots.map((r) => ({ cls: r.cls, pkg: groupPackage[r.group] ?? 'io.k8s.api.core' }));
  for (const { cls, pkg } of queue) nameOf[cls] ??= fixedNames[cls] ?? `${pkg}.${versionOf(cls)}.${shortName(cls)}`;

  const typeSchema = (owner: string, field: string, t: string, format: string, pkg: string): JsonObject => {
    const arr = /^Array<(.+)>$/.exec(t);
    if (arr) {
      const s: JsonObject = { type: 'array', items: typeSchema(owner, field, arr[1]!, '', pkg) };
      const pm = patchMeta[`${owner}.${field}`];
      if (pm) {
        s['x-kubernetes-patch-strategy'] = pm.strategy;
        if (pm.key) {
          s['x-kubernetes-patch-merge-key'] = pm.key;
          s['x-kubernetes-list-type'] = 'map';
          s['x-kubernetes-list-map-keys'] = pm.listKeys ?? [pm.key];
        }
      }
      if (setLists.has(`${owner}.${field}`)) s['x-kubernetes-list-type'] = 'set';
      if (!s['x-kubernetes-list-type']) s['x-kubernetes-list-type'] = 'atomic';
      return s;
    }
    const map = /^\{ \[key: string\]: (.+); \}$/.exec(t);
    if (map) {
      const inner = typeSchema(owner, field, map[1]!, '', pkg);
      if (format === 'byte') inner.format = 'byte';
      const quantities = /^(V1ResourceRequirements|V1VolumeResourceRequirements|V1NodeStatus)$/.test(owner) || ['V1PersistentVolumeClaimStatus.capacity', 'V1PersistentVolumeClaimStatus.allocatedResources', 'V1PersistentVolumeSpec.capacity', 'V1PodSpec.overhead'].includes(`${owner}.${field}`);
      if (quantities) return { type: 'object', additionalProperties: { $ref: `#/components/schemas/${QUANTITY}` } };
      return { type: 'object', additionalProperties: inner };
    }
    if (t === 'string') return format ? { type: 'string', format } : { type: 'string' };
    if (t === 'number') return format === 'double' ? { type: 'number', format } : { type: 'integer', format: format || 'int64' };
    if (t === 'boolean') return { type: 'boolean' };
    if (t === 'Date') return { $ref: `#/components/schemas/${TIME}` };
    if (t === 'V1MicroTime') return { $ref: `#/components/schemas/${MICROTIME}` };
    if (t === 'IntOrString') return { $ref: `#/components/schemas/${INT_OR_STRING}` };
    if (t === 'any') return owner === 'V1ManagedFieldsEntry' ? { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1' } : { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    if (t === 'object') return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    if (models[t]?.attributeTypeMap || t === 'V1JSONSchemaProps') {
      if (!nameOf[t]) {
        nameOf[t] = fixedNames[t] ?? `${pkg}.${versionOf(t)}.${shortName(t)}`;
        queue.push({ cls: t, pkg });
      }
      return { $ref: `#/components/schemas/${nameOf[t]}` };
    }
    return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  };

  for (let i = 0; i < queue.length; i++) {
    const { cls, pkg } = queue[i]!;
    if (cls === 'V1JSONSchemaProps') continue;
    const attrs = models[cls]?.attributeTypeMap;
    if (!attrs) throw new Error(`no client-node model ${cls}`);
    const properties: JsonObject = {};
    for (const a of attrs) properties[a.baseName] = typeSchema(cls, a.baseName, a.type, a.format, pkg);
    schemas[nameOf[cls]!] = { type: 'object', properties };
  }
  return { schemas, nameOf };
}
