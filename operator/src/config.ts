// Operator configuration from flags, then HYPERGEN_OPERATOR_* environment variables, then defaults.
import { hostname } from 'node:os';
import { bool, ConfigError, int, logLevel, namespaceList, readFlags, usage } from './flags.js';

export { ConfigError } from './flags.js';

export interface OperatorConfig {
  /** Path to a kubeconfig; absent: in-cluster service account, else the default kubeconfig. */
  kubeconfig?: string;
  defaultImage: string;
  gpuResourceName: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Empty: all namespaces. */
  namespaces: string[];
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  identity: string;
  metricsHost: string;
  metricsPort: number;
  workers: number;
  resyncPeriodS: number;
  /** How often the autoscaler samples the pods' queues and decides (models with spec.autoscaling only). */
  autoscaleIntervalMs: number;
  /** The autoscaler averages the load over this window. */
  autoscaleWindowS: number;
  logLevel: string;
}

export const DEFAULT_IMAGE = 'ghcr.io/hypergen/hypergen:0.1.0';

const OPTIONS = {
  kubeconfig: { env: 'KUBECONFIG' },
  'default-image': { env: 'HYPERGEN_OPERATOR_DEFAULT_IMAGE' },
  'gpu-resource-name': { env: 'HYPERGEN_OPERATOR_GPU_RESOURCE_NAME' },
  'image-pull-policy': { env: 'HYPERGEN_OPERATOR_IMAGE_PULL_POLICY' },
  namespaces: { env: 'HYPERGEN_OPERATOR_NAMESPACES' },
  'leader-elect': { env: 'HYPERGEN_OPERATOR_LEADER_ELECT' },
  'leader-election-namespace': { env: 'HYPERGEN_OPERATOR_LEADER_ELECTION_NAMESPACE' },
  'leader-election-id': { env: 'HYPERGEN_OPERATOR_LEADER_ELECTION_ID' },
  identity: { env: 'POD_NAME' },
  'metrics-host': { env: 'HYPERGEN_OPERATOR_METRICS_HOST' },
  'metrics-port': { env: 'HYPERGEN_OPERATOR_METRICS_PORT' },
  workers: { env: 'HYPERGEN_OPERATOR_WORKERS' },
  'resync-period-s': { env: 'HYPERGEN_OPERATOR_RESYNC_PERIOD_S' },
  'autoscale-interval-ms': { env: 'HYPERGEN_OPERATOR_AUTOSCALE_INTERVAL_MS' },
  'autoscale-window-s': { env: 'HYPERGEN_OPERATOR_AUTOSCALE_WINDOW_S' },
  'log-level': { env: 'HYPERGEN_OPERATOR_LOG_LEVEL' },
} as const;

export const USAGE = usage('hypergen-operator', OPTIONS);

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): OperatorConfig {
  const get = readFlags(OPTIONS, argv, env);
  const pull = get('image-pull-policy');
  if (pull !== undefined && !['Always', 'IfNotPresent', 'Never'].includes(pull)) {
    throw new ConfigError(`--image-pull-policy: expected Always, IfNotPresent or Never, got '${pull}'`);
  }
  const level = logLevel(get('log-level'));
  return {
    kubeconfig: get('kubeconfig') || undefined,
    defaultImage: get('default-image') || DEFAULT_IMAGE,
    gpuResourceName: get('gpu-resource-name') || 'nvidia.com/gpu',
    ...(pull ? { imagePullPolicy: pull as OperatorConfig['imagePullPolicy'] } : {}),
    namespaces: namespaceList(get('namespaces')),
    leaderElect: bool('leader-elect', get('leader-elect'), true),
    leaderElectionNamespace: get('leader-election-namespace') || env.POD_NAMESPACE || 'hypergen-system',
    leaderElectionId: get('leader-election-id') || 'hypergen-operator',
    identity: get('identity') || `${hostname()}-${process.pid}`,
    metricsHost: get('metrics-host') || '0.0.0.0',
    metricsPort: int('metrics-port', get('metrics-port'), 8080, 0, 65535),
    workers: int('workers', get('workers'), 4, 1, 64),
    resyncPeriodS: int('resync-period-s', get('resync-period-s'), 600, 0, 86400),
    autoscaleIntervalMs: int('autoscale-interval-ms', get('autoscale-interval-ms'), 2000, 50, 600_000),
    autoscaleWindowS: int('autoscale-window-s', get('autoscale-window-s'), 60, 1, 3600),
    logLevel: level,
  };
}
