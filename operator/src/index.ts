// The operator package's public surface: API types, RBAC rules, plan(), config parsing, startOperator/loadKubeConfig.
export * from './api/types.js';
export { RBAC_RULES, LEADER_ELECTION_RULES, allows, type PolicyRule } from './rbac.js';
export { plan, type PlanConfig } from './resources/plan.js';
export { parseConfig, type OperatorConfig } from './config.js';
export { startOperator, loadKubeConfig, type RunningOperator } from './operator.js';
