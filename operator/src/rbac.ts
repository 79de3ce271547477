// Every API call the operator makes, as data: the Helm chart's ClusterRole/Role is checked against this list,
// and the integration tests check the operator's recorded requests against it.
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** Cluster-wide (or per watched namespace) rules. */
export const RBAC_RULES: readonly PolicyRule[] = [
  { apiGroups: ['hypergen.io'], resources: ['hypergenmodels'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['hypergen.io'], resources: ['hypergenmodels/status'], verbs: ['get', 'patch', 'update'] },
  // The autoscaler writes replicas of models with spec.autoscaling, as an HPA would.
  { apiGroups: ['hypergen.io'], resources: ['hypergenmodels/scale'], verbs: ['get', 'update'] },
  // Owner references with blockOwnerDeletion need this where OwnerReferencesPermissionEnforcement is on.
  { apiGroups: ['hypergen.io'], resources: ['hypergenmodels/finalizers'], verbs: ['update'] },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
  { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
  { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
  // Secrets, by name only (no list or watch, so the operator cannot enumerate or bulk-read them):
  // get: that a Secret the CR references has its key (spec.apiKey.secretRef, spec.source.tokenSecretRef), and
  //   the state of the two it generates per CR (<name>-api-key, <name>-peer-key); Kubernetes RBAC cannot scope get
  //   to names chosen at run time, so narrower than this takes namespaced Roles (chart: watchNamespaces).
  // create: the generated ones; patch: adopting one left by an earlier incarnation of the CR (metadata only);
  // delete: the generated API key Secret once the CR names its own.
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'create', 'patch', 'delete'] },
  { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
];

/** Leader election, in the operator's own namespace (a Role). */
export const LEADER_ELECTION_RULES: readonly PolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

/** True when `rules` allow `verb` on `group`/`resource`. */
export function allows(rules: readonly PolicyRule[], group: string, resource: string, verb: string): boolean {
  return rules.some(
    (r) =>
      (r.apiGroups.includes(group) || r.apiGroups.includes('*')) &&
      (r.resources.includes(resource) || r.resources.includes('*')) &&
      (r.verbs.includes(verb) || r.verbs.includes('*')),
  );
}
