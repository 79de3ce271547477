// The chart's gateway RBAC rules (templates/_gateway_rbac.tpl), generated from operator/src/gateway/rbac.ts by
// `make manifests` so that the gateway's ClusterRole/Roles grant exactly the calls it makes.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GATEWAY_RBAC_RULES } from '@hypergen/operator/gateway/rbac.js';
import { expandRules, type Grant } from './rbac.js';
import { chartDir } from './render.js';

export const gatewayRbacTemplatePath = join(chartDir, 'templates', '_gateway_rbac.tpl');

export function gatewayRbacTemplate(): string {
  const list = (xs: readonly string[]) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
  return [
    '{{- /* Generated from operator/src/gateway/rbac.ts by `make manifests`; do not edit. */}}',
    '',
    '{{/* Every API call the gateway makes. */}}',
    '{{- define "hypergen.gatewayRules" -}}',
    GATEWAY_RBAC_RULES.map((r) => `- apiGroups: ${list(r.apiGroups)}\n  resources: ${list(r.resources)}\n  verbs: ${list(r.verbs)}`).join('\n'),
    '{{- end }}',
    '',
  ].join('\n');
}

export function writeGatewayRbacTemplate(): void {
  writeFileSync(gatewayRbacTemplatePath, gatewayRbacTemplate());
}

export const currentGatewayRbacTemplate = (): string => readFileSync(gatewayRbacTemplatePath, 'utf8');
export const gatewayGrants = (): Set<Grant> => expandRules(GATEWAY_RBAC_RULES);
