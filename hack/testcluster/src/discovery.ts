// Registry -> the discovery documents kube-apiserver serves (/api, /apis, /apis/GROUP, /api(s)/.../VERSION), with
// the status, scale, proxy and log subresources. Pure.
import type { Registry } from './registry.js';
import type { ResourceDef } from './resource.js';
import { type JsonObject, apiVersionOf } from './types.js';

const SUB_VERBS = ['get', 'patch', 'update'];

function resourceEntries(d: ResourceDef): JsonObject[] {
  const out: JsonObject[] = [
    {
      name: d.resource,
      singularName: d.singular,
      namespaced: d.namespaced,
      kind: d.kind,
      verbs: d.verbs,
      ...(d.shortNames.length ? { shortNames: d.shortNames } : {}),
      ...(d.categories.length ? { categories: d.categories } : {}),
      storageVersionHash: Buffer.from(`${d.storageVersion}/${d.kind}`).toString('base64').slice(0, 11),
    },
  ];
  if (d.scale) out.push({ name: `${d.resource}/scale`, singularName: '', namespaced: d.namespaced, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: SUB_VERBS });
  if (d.status) out.push({ name: `${d.resource}/status`, singularName: '', namespaced: d.namespaced, kind: d.kind, verbs: SUB_VERBS });
  if (d.group === '' && d.resource === 'services') out.push({ name: 'services/proxy', singularName: '', namespaced: true, kind: 'ServiceProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] });
  if (d.group === '' && d.resource === 'pods') out.push({ name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] });
  return out;
}

/** /api, /apis, /apis/GROUP and /api(s)/.../VERSION documents; undefined when the path is not a discovery path. */
export function discoveryDoc(reg: Registry, path: string, serverAddress: string): JsonObject | undefined {
  const groups = reg.groups();
  if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
  const gv = (g: string, v: string) => ({ groupVersion: apiVersionOf(g, v), version: v });
  const groupDoc = (g: { name: string; versions: string[]; preferred: string }) => ({
    name: g.name,
    versions: g.versions.map((v) => gv(g.name, v)),
    preferredVersion: gv(g.name, g.preferred),
  });
  if (path === '/apis') return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.filter((g) => g.name !== '').map(groupDoc) };
  let m = /^\/api\/(v[^/]+)$/.exec(path);
  let group = '';
  let version = '';
  if (m) version = m[1]!;
  else {
    m = /^\/apis\/([^/]+)(?:\/([^/]+))?$/.exec(path);
    if (!m) return undefined;
    group = m[1]!;
    if (!m[2]) {
      const g = groups.find((x) => x.name === group);
      return g ? { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(g) } : undefined;
    }
    version = m[2];
  }
  const defs = reg.all().filter((d) => d.group === group && d.version === version);
  if (defs.length === 0) return undefined;
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf(group, version), resources: defs.flatMap(resourceEntries) };
}
