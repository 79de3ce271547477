{{- /* Generated from operator/src/rbac.ts by `make manifests`; do not edit. */}}

{{/* Every API call the operator makes on the objects it reconciles. */}}
{{- define "hypergen.operatorRules" -}}
- apiGroups: ["hypergen.io"]
  resources: ["hypergenmodels"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["hypergen.io"]
  resources: ["hypergenmodels/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["hypergen.io"]
  resources: ["hypergenmodels/scale"]
  verbs: ["get", "update"]
- apiGroups: ["hypergen.io"]
  resources: ["hypergenmodels/finalizers"]
  verbs: ["update"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "update", "delete"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "update", "delete"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch", "create", "update", "delete"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/* Leader election: the Lease in the release namespace. */}}
{{- define "hypergen.leaderElectionRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "create", "update"]
{{- end }}
