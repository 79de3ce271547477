export { DeploymentController } from './deployments.js';
export { ProcessPodRunner, type ProcessRunnerOptions } from './process-runner.js';
export { serviceProxy, startServiceProxy } from './proxy.js';
