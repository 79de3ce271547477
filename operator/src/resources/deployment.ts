// The server Deployment: one pod template per CR with the model fetched by an init container, the API key
// mounted as a file (the server re-reads it, so rotation needs no restart), the replicas' peer key and pod IP (any
// replica serves any url image), a drain on termination, GPUs as limits and a restricted security context.
import type {
  V1Affinity,
  V1Container,
  V1Deployment,
  V1DeploymentSpec,
  V1EnvVar,
  V1PodSpec,
  V1Probe,
  V1ResourceRequirements,
  V1SecurityContext,
  V1Toleration,
  V1Volume,
} from '@kubernetes/client-node';
import type { HyperGenModel } from '../api/types.js';
import { cachePvcName, commonLabels, contentHash, HASH_ANNOTATION, nonEmpty, objectMeta, PEER_KEY, peerKeySecretName, selectorLabels, type Planned } from './meta.js';
import type { PlanConfig } from './plan-config.js';
import type { ApiKeyRef } from './secret.js';
import type { ModelSource } from './source.js';

export const SERVER_PORT = 8000;
export const MODEL_MOUNT = '/models';
export const API_KEY_MOUNT = '/etc/hypergen/api-key';
export const PEER_KEY_MOUNT = '/etc/hypergen/peer-key';
/**
 * Termination: the kubelet runs the preStop sleep while endpoints and load balancers drop the pod, then SIGTERMs
 * the server, which answers /readyz 503 for its drain delay while still serving, closes its listener and lets
 * admitted requests finish; all of it inside the grace period (1 s spare before SIGKILL).
 */
export const TERMINATION_GRACE_S = 30;
export const PRESTOP_SLEEP_S = 5;
export const SERVER_DRAIN_DELAY_S = 2;
export const SERVER_SHUTDOWN_GRACE_S = TERMINATION_GRACE_S - PRESTOP_SLEEP_S - 1;
/** Non-root uid/gid of the server image; fsGroup makes the volumes writable for it. */
export const POD_UID = 10001;

/** Unset spec.replicas: an autoscaler (or a person) owns the replica count, so an update keeps the live one. */
export const DEPLOYMENT_KEEPS_FROM_LIVE = ['replicas'] as const satisfies readonly (keyof V1DeploymentSpec)[];

const containerSecurityContext: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** The server's --device: the CR's GPU provider (default cuda) when it has GPUs, else cpu. */
export function servingDevice(cr: HyperGenModel): 'cuda' | 'webgpu' | 'cpu' {
  return (cr.spec.gpu?.count ?? 1) > 0 ? (cr.spec.gpu?.provider ?? 'cuda') : 'cpu';
}

/** The server's --dtype: the CR's, else fp16 on a GPU and fp32 on the CPU. */
export function servingDtype(cr: HyperGenModel, device: 'cuda' | 'webgpu' | 'cpu'): 'fp16' | 'fp32' {
  return cr.spec.serving?.dtype ?? (device === 'cpu' ? 'fp32' : 'fp16');
}

/**
 * The init container's --dtype (the precision a diffusers repository is converted to): what the server converts a
 * diffusers folder to with the same --device and --dtype (server/src/serve.ts: fp16 graphs for a GPU provider with
 * fp16, fp32 otherwise), so the server finds the folder ready and converts nothing.
 */
export function pullDtype(cr: HyperGenModel, device: 'cuda' | 'webgpu' | 'cpu'): 'fp16' | 'fp32' {
  return device !== 'cpu' && servingDtype(cr, device) === 'fp16' ? 'fp16' : 'fp32';
}

/** Flags for the serving options the CR sets; absent ones keep the server's own defaults (fp16 on a GPU, fp32 on CPU). */
export function servingArgs(cr: HyperGenModel, device: 'cuda' | 'webgpu' | 'cpu'): string[] {
  const s = cr.spec.serving ?? {};
  const args = ['--device', device, '--dtype', servingDtype(cr, device)];
  const flags: [string, number | string | undefined][] = [
    ['--max-batch-size', s.maxBatchSize],
    ['--batch-wait-ms', s.batchWaitMs],
    ['--max-queue-size', s.maxQueueSize],
    ['--default-steps', s.defaultSteps],
    ['--default-guidance-scale', s.defaultGuidanceScale],
    ['--default-scheduler', s.scheduler],
  ];
  for (const [flag, value] of flags) if (value !== undefined) args.push(flag, String(value));
  return args;
}

function modelVolume(cr: HyperGenModel): V1Volume {
  const pvc = cr.spec.cache?.pvc;
  if (pvc) return { name: 'model', persistentVolumeClaim: { claimName: pvc.claimName ?? cachePvcName(cr) } };
  return { name: 'model', emptyDir: {} };
}

/** What plan() has already worked out from the CR, shared with the other planners and status. */
export interface DeploymentInputs {
  apiKey: ApiKeyRef;
  source: ModelSource;
}

export function planDeployment(cr: HyperGenModel, config: PlanConfig, { apiKey: key, source }: DeploymentInputs): Planned<V1Deployment> {
  const spec = cr.spec;
  const gpuCount = spec.gpu?.count ?? 1;
  const gpuResource = spec.gpu?.resourceName ?? config.gpuResourceName;
  const device = servingDevice(cr);
  const image = spec.image ?? config.defaultImage;
  const imagePullPolicy = spec.imagePullPolicy ?? config.imagePullPolicy;

  // pvc://CLAIM/path lives at /models/CLAIM/path, the layout `hypergen pull` assumes for pvc:// (HYPERGEN_PVC_ROOT).
  const modelMount = source.kind === 'pvc' ? `${MODEL_MOUNT}/${source.claimName}` : MODEL_MOUNT;
  const modelDir = source.kind === 'pvc' ? [modelMount, source.path].filter(Boolean).join('/') : `${MODEL_MOUNT}/model`;
  const volumes: V1Volume[] = [
    source.kind === 'pvc' ? { name: 'model', persistentVolumeClaim: { claimName: source.claimName, readOnly: true } } : modelVolume(cr),
    { name: 'api-key', secret: { secretName: key.name, defaultMode: 0o440 } },
    { name: 'peer-key', secret: { secretName: peerKeySecretName(cr), defaultMode: 0o440 } },
    { name: 'dshm', emptyDir: { medium: 'Memory' } },
    { name: 'tmp', emptyDir: {} },
  ];

  const initContainers: V1Container[] | undefined =
    source.kind === 'pull'
      ? [
          {
            name: 'pull-model',
            image,
            ...(imagePullPolicy ? { imagePullPolicy } : {}),
            args: ['pull', source.uri, '--dir', modelDir, '--dtype', pullDtype(cr, device)],
            env: [
              { name: 'HOME', value: '/tmp' },
              ...(source.tokenSecretRef
                ? [{ name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: source.tokenSecretRef.name, key: source.tokenSecretRef.key } } }]
                : []),
            ],
            volumeMounts: [
              { name: 'model', mountPath: MODEL_MOUNT },
              { name: 'tmp', mountPath: '/tmp' },
            ],
            securityContext: containerSecurityContext,
          },
        ]
      : undefined;

  const limits: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.resources?.limits ?? {})) limits[k] = String(v);
  if (gpuCount > 0) limits[gpuResource] = String(gpuCount);
  const requests: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.resources?.requests ?? {})) requests[k] = String(v);
  const resources: V1ResourceRequirements | undefined = nonEmpty({ ...(nonEmpty(requests) ? { requests } : {}), ...(nonEmpty(limits) ? { limits } : {}) });

  const probe = (path: string, periodSeconds: number, failureThreshold: number): V1Probe => ({
    httpGet: { path, port: 'http', scheme: 'HTTP' },
    periodSeconds,
    timeoutSeconds: 5,
    failureThreshold,
  });

  const server: V1Container = {
    name: 'server',
    image,
    ...(imagePullPolicy ? { imagePullPolicy } : {}),
    args: [
      'serve',
      modelDir,
      '--model-id',
      spec.model,
      '--host',
      '0.0.0.0',
      '--port',
      String(SERVER_PORT),
      '--api-key-file',
      `${API_KEY_MOUNT}/${key.key}`,
      '--peer-key-file',
      `${PEER_KEY_MOUNT}/${PEER_KEY}`,
      '--drain-delay-s',
      String(SERVER_DRAIN_DELAY_S),
      '--shutdown-grace-s',
      String(SERVER_SHUTDOWN_GRACE_S),
      ...servingArgs(cr, device),
    ],
    ports: [{ name: 'http', containerPort: SERVER_PORT, protocol: 'TCP' }],
    env: [
      { name: 'HOME', value: '/tmp' },
      // Other replicas fetch url images this one made from its pod IP (the port is --port).
      { name: 'HYPERGEN_PEER_ADDRESS', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      // Passed through as the CRD declares them (core/v1 EnvVar, valueFrom as the API validates it).
      ...((spec.env ?? []) as V1EnvVar[]),
    ],
    ...(resources ? { resources } : {}),
    volumeMounts: [
      { name: 'model', mountPath: modelMount, readOnly: true },
      { name: 'api-key', mountPath: API_KEY_MOUNT, readOnly: true },
      { name: 'peer-key', mountPath: PEER_KEY_MOUNT, readOnly: true },
      { name: 'dshm', mountPath: '/dev/shm' },
      { name: 'tmp', mountPath: '/tmp' },
    ],
    // Loading a large pipeline can take minutes: up to 30 minutes before liveness starts counting.
    startupProbe: probe('/livez', 10, 180),
    readinessProbe: probe('/readyz', 5, 3),
    livenessProbe: probe('/livez', 10, 6),
    lifecycle: { preStop: { exec: { command: ['sleep', String(PRESTOP_SLEEP_S)] } } },
    securityContext: containerSecurityContext,
  };

  const tolerations: V1Toleration[] = [
    ...(gpuCount > 0 ? [{ key: gpuResource, operator: 'Exists', effect: 'NoSchedule' }] : []),
    ...(spec.tolerations ?? []),
  ];

  const podSpec: V1PodSpec = {
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: TERMINATION_GRACE_S,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: POD_UID,
      runAsGroup: POD_UID,
      fsGroup: POD_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    ...(initContainers ? { initContainers } : {}),
    containers: [server],
    volumes,
    ...(nonEmpty(spec.nodeSelector) ? { nodeSelector: spec.nodeSelector } : {}),
    ...(tolerations.length > 0 ? { tolerations } : {}),
    // core/v1 Affinity, passed through unchanged (the CRD keeps its schema open).
    ...(nonEmpty(spec.affinity) ? { affinity: spec.affinity as V1Affinity } : {}),
    ...(spec.priorityClassName ? { priorityClassName: spec.priorityClassName } : {}),
    ...(spec.imagePullSecrets?.length ? { imagePullSecrets: spec.imagePullSecrets } : {}),
  };

  const deploymentSpec: V1DeploymentSpec = {
    // Unset replicas are left to whoever scales the Deployment (the applier keeps the live value).
    ...(spec.replicas !== undefined ? { replicas: spec.replicas } : {}),
    selector: { matchLabels: selectorLabels(cr) },
    // Never drop serving pods during a rollout; without a spare GPU the new pod waits (condition: Unschedulable).
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    template: {
      metadata: {
        labels: { ...(spec.podLabels ?? {}), ...commonLabels(cr, 'server') },
        ...(nonEmpty(spec.podAnnotations) ? { annotations: spec.podAnnotations } : {}),
      },
      spec: podSpec,
    },
  };

  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: objectMeta(cr, cr.metadata.name, 'server', { [HASH_ANNOTATION]: contentHash(deploymentSpec) }),
    spec: deploymentSpec,
  };
}
