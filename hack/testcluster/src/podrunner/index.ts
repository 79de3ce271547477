// The process pod runner's public surface: the Deployment controller, pods as local processes, and the Service proxy.
export { DeploymentController } from './deployments.js';
export { ProcessPodRunner, type ProcessRunnerOptions } from './process-runner.js';
export { serviceProxy, startServiceProxy } from './proxy.js';
