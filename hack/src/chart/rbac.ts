// The chart's RBAC rules are generated from the operator's own list of API calls (operator/src/rbac.ts) by
// `make manifests`, so the ClusterRole/Roles grant exactly what the operator calls and nothing more.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LEADER_ELECTION_RULES, RBAC_RULES, type PolicyRule } from '@hypergen/operator/rbac.js';
import { chartDir } from './render.js';

export const rbacTemplatePath = join(chartDir, 'templates', '_rbac.tpl');

/** One permission: "group/resource[/subresource]:verb" (core group written as ""). */
export type Grant = string;

export function grant(group: string, resource: string, verb: string): Grant {
  return `${group}/${resource}:${verb}`;
}

/** Expands rules into single grants; rejects wildcards and resourceNames, which least privilege never needs. */
export function expandRules(rules: readonly Partial<PolicyRule & { resourceNames: string[]; nonResourceURLs: string[] }>[]): Set<Grant> {
  const out = new Set<Grant>();
  for (const r of rules) {
    if (r.nonResourceURLs?.length || r.resourceNames?.length) throw new Error(`unexpected rule ${JSON.stringify(r)}`);
    for (const g of r.apiGroups ?? [])
      for (const res of r.resources ?? [])
        for (const v of r.verbs ?? []) {
          if ([g, res, v].includes('*')) throw new Error(`wildcard in rule ${JSON.stringify(r)}`);
          out.add(grant(g, res, v));
        }
  }
  return out;
}

function rulesYaml(rules: readonly PolicyRule[]): string {
  const list = (xs: readonly string[]) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
  return rules
    .map((r) => `- apiGroups: ${list(r.apiGroups)}\n  resources: ${list(r.resources)}\n  verbs: ${list(r.verbs)}`)
    .join('\n');
}

/** The text of templates/_rbac.tpl for the operator's current rule lists. */
export function rbacTemplate(): string {
  return [
    '{{- /* Generated from operator/src/rbac.ts by `make manifests`; do not edit. */}}',
    '',
    '{{/* Every API call the operator makes on the objects it reconciles. */}}',
    '{{- define "hypergen.operatorRules" -}}',
    rulesYaml(RBAC_RULES),
    '{{- end }}',
    '',
    '{{/* Leader election: the Lease in the release namespace. */}}',
    '{{- define "hypergen.leaderElectionRules" -}}',
    rulesYaml(LEADER_ELECTION_RULES),
    '{{- end }}',
    '',
  ].join('\n');
}

export function writeRbacTemplate(): void {
  writeFileSync(rbacTemplatePath, rbacTemplate());
}

export function currentRbacTemplate(): string {
  return readFileSync(rbacTemplatePath, 'utf8');
}

export const operatorGrants = (): Set<Grant> => expandRules(RBAC_RULES);
export const leaderElectionGrants = (): Set<Grant> => expandRules(LEADER_ELECTION_RULES);

/** What RBAC sees of one API request (Kubernetes' RequestInfo). */
export interface RequestAttributes {
  verb: string;
  group: string;
  /** resource, or resource/subresource */
  resource: string;
  namespace?: string;
  name?: string;
}

/** Derives RBAC attributes from a request line as the API server's RequestInfoFactory does; undefined for non-resource URLs. */
export function requestAttributes(method: string, url: string): RequestAttributes | undefined {
  const u = new URL(url, 'http://x');
  const parts = u.pathname.split('/').filter(Boolean);
  let rest: string[];
  let group: string;
  if (parts[0] === 'api' && parts.length >= 2) {
    group = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1]!;
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  if (rest.length === 0) return undefined; // discovery of one group version
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, sub] = rest as [string, string | undefined, string | undefined];
  const watch = ['true', '1'].includes(u.searchParams.get('watch') ?? '');
  const verbs: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch' };
  let verb = verbs[method.toUpperCase()] ?? '';
  if (method.toUpperCase() === 'GET' || method.toUpperCase() === 'HEAD') verb = watch ? 'watch' : name ? 'get' : 'list';
  if (method.toUpperCase() === 'DELETE') verb = name ? 'delete' : 'deletecollection';
  return { verb, group, resource: sub ? `${resource}/${sub}` : resource, namespace, ...(name ? { name } : {}) };
}

/** A role as bound: cluster-wide (ClusterRoleBinding) or in one namespace (RoleBinding). */
export interface BoundRules {
  namespace?: string;
  rules: readonly PolicyRule[];
}

/** RBAC's decision: some binding in scope has a rule matching group, resource and verb. */
export function authorized(bindings: readonly BoundRules[], a: RequestAttributes): boolean {
  const g = grant(a.group, a.resource, a.verb);
  return bindings.some((b) => (b.namespace === undefined || b.namespace === a.namespace) && expandRules(b.rules).has(g));
}
