// The test cluster's public surface: startTestCluster and its kubeconfig, request hooks, the object API, node specs
// and the simulated pod runner, and the JSON types objects are made of.
export { startTestCluster, type TestCluster, type TestClusterOptions } from './cluster.js';
export type { FaultRule, RequestRecord } from './hooks.js';
export type { ObjectApi, ObjectList } from './api.js';
export type { NodeSpec } from './controllers/scheduler.js';
export { SimulatedPodRunner, crashLoopStatus } from './pods.js';
export type { JsonArray, JsonObject, JsonPrimitive, JsonValue, KubeObject, ObjectMeta, OwnerReference } from './types.js';
export { arrayOr, asArray, asNumber, asObject, asString, at, isPlainObject, objectOr, objectsOf } from './types.js';
