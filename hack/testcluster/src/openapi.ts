// Registry -> the OpenAPI v3 documents kubectl reads (/openapi/v3 with content hashes, one per group/version, paths
// with the PATCH media types that make kubectl choose strategic merge), and the version /version reports. Pure.
import type { Registry } from './registry.js';
import type { ResourceDef } from './resource.js';
import { type JsonObject, type JsonValue, type Schema, deepClone, isPlainObject } from './types.js';

export const KUBE_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.4', gitCommit: '59526cd4867447956156ae3a602fcbac5ba2ac2f', gitTreeState: 'clean', buildDate: '2025-04-22T16:02:27Z', goVersion: 'go1.23.6', compiler: 'gc', platform: 'linux/amd64' };

const q = (name: string, type: string, description: string) => ({ name, in: 'query', description, schema: { type, uniqueItems: true } });
const P = {
  dryRun: q('dryRun', 'string', 'When present, indicates that modifications should not be persisted.'),
  fieldManager: q('fieldManager', 'string', 'fieldManager is a name associated with the actor or entity that is making these changes.'),
  fieldValidation: q('fieldValidation', 'string', 'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: Ignore, Warn (default), Strict.'),
  pretty: q('pretty', 'string', "If 'true', then the output is pretty printed."),
  labelSelector: q('labelSelector', 'string', 'A selector to restrict the list of returned objects by their labels.'),
  fieldSelector: q('fieldSelector', 'string', 'A selector to restrict the list of returned objects by their fields.'),
  watch: q('watch', 'boolean', 'Watch for changes to the described resources.'),
  resourceVersion: q('resourceVersion', 'string', 'resourceVersion sets a constraint on what resource versions a request may be served from.'),
  limit: q('limit', 'integer', 'limit is a maximum number of responses to return for a list call.'),
  cont: q('continue', 'string', 'The continue option should be set when retrieving more results from the server.'),
  allowWatchBookmarks: q('allowWatchBookmarks', 'boolean', 'allowWatchBookmarks requests watch events with type "BOOKMARK".'),
  timeoutSeconds: q('timeoutSeconds', 'integer', 'Timeout for the list/watch call.'),
  propagationPolicy: q('propagationPolicy', 'string', "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background'."),
  gracePeriodSeconds: q('gracePeriodSeconds', 'integer', 'The duration in seconds before the object should be deleted.'),
};
const pathParam = (name: string) => ({ name, in: 'path', required: true, description: `name of the ${name === 'namespace' ? 'Namespace' : 'resource'}`, schema: { type: 'string', uniqueItems: true } });

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonContent = (schemaName: string) => ({ content: { 'application/json': { schema: ref(schemaName) }, 'application/yaml': { schema: ref(schemaName) } } });
/** kubectl apply uses strategic merge patch exactly when the PATCH operation lists its media type. */
const patchBody = (d: ResourceDef) => ({
  content: Object.fromEntries(
    ['application/merge-patch+json', ...(d.strategicMerge ? ['application/strategic-merge-patch+json'] : [])].map((t) => [t, { schema: ref('io.k8s.apimachinery.pkg.apis.meta.v1.Patch') }]),
  ),
  required: true,
});

function opId(verb: string, d: ResourceDef, suffix: string): string {
  const g = d.group ? d.group.split('.')[0]!.replace(/^./, (c) => c.toUpperCase()) : 'Core';
  return `${verb}${g}${d.version.replace(/^./, (c) => c.toUpperCase())}${d.namespaced ? 'Namespaced' : ''}${d.kind}${suffix}`;
}

function paths(d: ResourceDef): Record<string, JsonObject> {
  const base = d.group ? `/apis/${d.group}/${d.version}` : `/api/${d.version}`;
  const gvk = { group: d.group, kind: d.kind, version: d.version };
  const nsPart = d.namespaced ? '/namespaces/{namespace}' : '';
  const common = d.namespaced ? [pathParam('namespace'), P.pretty] : [P.pretty];
  const op = (action: string, verb: string, suffix: string, params: JsonObject[], extra: { responseSchema?: string; body?: JsonObject } = {}, kind = gvk) => ({
    description: `${verb} ${d.kind}`,
    operationId: opId(verb, d, suffix),
    parameters: params,
    responses: { '200': { description: 'OK', ...jsonContent(extra.responseSchema ?? d.schemaName) }, '401': { description: 'Unauthorized' } },
    ...(extra.body ? { requestBody: extra.body } : {}),
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': kind,
  });
  const out: Record<string, JsonObject> = {};
  out[`${base}${nsPart}/${d.resource}`] = {
    parameters: common,
    get: op('list', 'list', '', [P.labelSelector, P.fieldSelector, P.limit, P.cont, P.resourceVersion, P.watch, P.allowWatchBookmarks, P.timeoutSeconds], { responseSchema: `${d.schemaName}List` }),
    post: op('post', 'create', '', [P.dryRun, P.fieldManager, P.fieldValidation], { body: { ...jsonContent(d.schemaName), required: true } }),
    delete: op('deletecollection', 'deletecollection', '', [P.labelSelector, P.fieldSelector, P.propagationPolicy, P.dryRun], { responseSchema: 'io.k8s.apimachinery.pkg.apis.meta.v1.Status' }),
  };
  const item = `${base}${nsPart}/${d.resource}/{name}`;
  const itemParams = [pathParam('name'), ...common];
  out[item] = {
    parameters: itemParams,
    get: op('get', 'read', '', []),
    put: op('put', 'replace', '', [P.dryRun, P.fieldManager, P.fieldValidation], { body: { ...jsonContent(d.schemaName), required: true } }),
    patch: op('patch', 'patch', '', [P.dryRun, P.fieldManager, P.fieldValidation], { body: patchBody(d) }),
    delete: op('delete', 'delete', '', [P.gracePeriodSeconds, P.propagationPolicy, P.dryRun], { responseSchema: 'io.k8s.apimachinery.pkg.apis.meta.v1.Status' }),
  };
  if (d.status) {
    out[`${item}/status`] = {
      parameters: itemParams,
      get: op('get', 'read', 'Status', []),
      put: op('put', 'replace', 'Status', [P.dryRun, P.fieldManager, P.fieldValidation], { body: { ...jsonContent(d.schemaName), required: true } }),
      patch: op('patch', 'patch', 'Status', [P.dryRun, P.fieldManager, P.fieldValidation], { body: patchBody(d) }),
    };
  }
  if (d.scale) {
    const scaleGvk = { group: 'autoscaling', kind: 'Scale', version: 'v1' };
    const scaleName = 'io.k8s.api.autoscaling.v1.Scale';
    out[`${item}/scale`] = {
      parameters: itemParams,
      get: op('get', 'read', 'Scale', [], { responseSchema: scaleName }, scaleGvk),
      put: op('put', 'replace', 'Scale', [P.dryRun, P.fieldManager, P.fieldValidation], { body: { ...jsonContent(scaleName), required: true }, responseSchema: scaleName }, scaleGvk),
      patch: op('patch', 'patch', 'Scale', [P.dryRun, P.fieldManager, P.fieldValidation], { body: patchBody(d), responseSchema: scaleName }, scaleGvk),
    };
  }
  if (d.namespaced) {
    out[`${base}/${d.resource}`] = {
      parameters: [P.pretty],
      get: op('list', 'list', 'ForAllNamespaces', [P.labelSelector, P.fieldSelector, P.limit, P.cont, P.resourceVersion, P.watch, P.allowWatchBookmarks, P.timeoutSeconds], { responseSchema: `${d.schemaName}List` }),
    };
  }
  return out;
}

/** Adds every schema reachable through $refs from `names`. */
function closure(reg: Registry, names: string[]): Record<string, Schema> {
  const out: Record<string, Schema> = {};
  const queue = [...names];
  const visit = (s: JsonValue | undefined): void => {
    if (Array.isArray(s)) s.forEach(visit);
    else if (isPlainObject(s)) {
      if (typeof s.$ref === 'string') queue.push(s.$ref.replace('#/components/schemas/', ''));
      Object.values(s).forEach(visit);
    }
  };
  while (queue.length) {
    const n = queue.pop()!;
    if (out[n]) continue;
    const s = reg.schema(n);
    if (!s) continue;
    out[n] = deepClone(s);
    visit(s);
  }
  return out;
}

/** The OpenAPI v3 document of one group/version (`api/v1`, `apis/apps/v1`). */
export function openapiDoc(reg: Registry, group: string, version: string): JsonObject | undefined {
  const defs = reg.all().filter((d) => d.group === group && d.version === version);
  if (defs.length === 0) return undefined;
  const names = defs.map((d) => d.schemaName);
  const schemas = closure(reg, [...names, 'io.k8s.apimachinery.pkg.apis.meta.v1.Status', 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions', 'io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta', ...(defs.some((d) => d.scale) ? ['io.k8s.api.autoscaling.v1.Scale'] : [])]);
  schemas['io.k8s.apimachinery.pkg.apis.meta.v1.Patch'] = { type: 'object', description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.' };
  for (const d of defs) {
    schemas[d.schemaName] = { ...schemas[d.schemaName], 'x-kubernetes-group-version-kind': [{ group: d.group, kind: d.kind, version: d.version }] };
    schemas[`${d.schemaName}List`] ??= {
      type: 'object',
      required: ['items'],
      properties: { apiVersion: { type: 'string' }, items: { type: 'array', items: ref(d.schemaName) }, kind: { type: 'string' }, metadata: ref('io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta') },
      'x-kubernetes-group-version-kind': [{ group: d.group, kind: d.listKind, version: d.version }],
    };
  }
  if (schemas['io.k8s.api.autoscaling.v1.Scale']) schemas['io.k8s.api.autoscaling.v1.Scale']['x-kubernetes-group-version-kind'] = [{ group: 'autoscaling', kind: 'Scale', version: 'v1' }];
  if (schemas['io.k8s.apimachinery.pkg.apis.meta.v1.Status']) schemas['io.k8s.apimachinery.pkg.apis.meta.v1.Status']['x-kubernetes-group-version-kind'] = [{ group: '', kind: 'Status', version: 'v1' }];
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: KUBE_VERSION.gitVersion },
    paths: Object.assign({}, ...defs.map(paths)),
    components: { schemas },
  };
}

/** `/openapi/v3`: one entry per group/version with a content hash, so clients refetch when CRDs change. */
export function openapiRoot(reg: Registry, docOf: (key: string) => { hash: string } | undefined): JsonObject {
  const keys: string[] = [];
  for (const g of reg.groups()) for (const v of g.versions) keys.push(g.name ? `apis/${g.name}/${v}` : `api/${v}`);
  return { paths: Object.fromEntries(keys.flatMap((k) => {
    const d = docOf(k);
    return d ? [[k, { serverRelativeURL: `/openapi/v3/${k}?hash=${d.hash}` }]] : [];
  })) };
}
