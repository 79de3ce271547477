{{- /* Generated from operator/src/gateway/rbac.ts by `make manifests`; do not edit. */}}

{{/* Every API call the gateway makes. */}}
{{- define "hypergen.gatewayRules" -}}
- apiGroups: ["hypergen.io"]
  resources: ["hypergenmodels"]
  verbs: ["list", "watch"]
- apiGroups: ["hypergen.io"]
  resources: ["hypergenmodels/scale"]
  verbs: ["get", "update"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end }}
