// Every API call the gateway makes, as data (the chart's gateway ClusterRole/Roles are generated from it by
// `make manifests`): it reads models and their pods, the models' key Secrets, and wakes a model through its scale
// (recording an Event).
import type { PolicyRule } from '../rbac.js';

export const GATEWAY_RBAC_RULES: readonly PolicyRule[] = [
  { apiGroups: ['hypergen.io'], resources: ['hypergenmodels'], verbs: ['list', 'watch'] },
  // Scale from zero: read the count, raise it from 0 (never anything else).
  { apiGroups: ['hypergen.io'], resources: ['hypergenmodels/scale'], verbs: ['get', 'update'] },
  // Ready pods and their IPs (the endpoints it routes to).
  { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
  // A model's key Secret, read by name when a request for it arrives (names come from each CR, so no resourceNames).
  { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
  // A ScaledFromZero Event on the model it woke.
  { apiGroups: [''], resources: ['events'], verbs: ['create'] },
];
