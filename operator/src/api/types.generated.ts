// GENERATED from crds/hypergen.io_hypergenmodels.yaml by operator/src/api/codegen.ts. Do not edit.
// apiVersion v1alpha1; regenerate with: node operator/dist/api/codegen.js

/** Secret key holding a Hugging Face token, passed to the model download as HF_TOKEN. */
export interface HyperGenModelSpecSourceTokenSecretRef {
  name: string;
  key?: string;
}

/** Where the ONNX pipeline comes from. Default hf://<model>. */
export interface HyperGenModelSpecSource {
  /** hf://org/name[@rev], https://...tar.gz, or pvc://CLAIM/path (mounted read-only, no download). */
  uri?: string;
  /** Hugging Face revision (branch, tag or commit) for hf:// sources. */
  revision?: string;
  /** Secret key holding a Hugging Face token, passed to the model download as HF_TOKEN. */
  tokenSecretRef?: HyperGenModelSpecSourceTokenSecretRef;
}

/** Replicas from the pods' queue depth; the operator writes spec.replicas through the scale subresource. Absent, replicas are left to spec.replicas or a user's own HPA/KEDA. */
export interface HyperGenModelSpecAutoscaling {
  /** Fewest replicas; 0 scales to zero when idle (the gateway holds requests while one starts). */
  minReplicas?: number;
  maxReplicas: number;
  /** Admitted generations (running or waiting) per replica to aim for, averaged over the window. */
  targetQueuePerReplica?: number;
  /** How long the load must stay below the current replica count before scaling down. */
  scaleDownDelaySeconds?: number;
}

/** GPUs per pod. count 0 runs on CPU. */
export interface HyperGenModelSpecGpu {
  count?: number;
  /** GPU execution provider the server loads (--device); cuda for NVIDIA with the CUDA provider, webgpu for any vendor's Vulkan driver (NVIDIA, AMD, Intel). Unused when count is 0 (CPU). */
  provider?: "cuda" | "webgpu";
  /** Extended resource name, free-form (nvidia.com/gpu, amd.com/gpu, gpu.intel.com/i915, a MIG profile); default from the operator config (nvidia.com/gpu). */
  resourceName?: string;
}

/** Extra cpu/memory requests and limits of the server container. */
export interface HyperGenModelSpecResources {
  requests?: Record<string, number | string>;
  limits?: Record<string, number | string>;
}

export interface HyperGenModelSpecApiKeySecretRef {
  name: string;
  key?: string;
}

/** Where the API key comes from. Absent, the operator generates Secret <name>-api-key once. */
export interface HyperGenModelSpecApiKey {
  secretRef?: HyperGenModelSpecApiKeySecretRef;
}

/** Server tuning and request defaults. */
export interface HyperGenModelSpecServing {
  maxBatchSize?: number;
  batchWaitMs?: number;
  maxQueueSize?: number;
  defaultSteps?: number;
  defaultGuidanceScale?: number;
  scheduler?: "euler" | "euler_a" | "ddim" | "lcm" | "dpmpp_2m" | "pndm";
  /** Compute precision; default fp16 on GPU, fp32 on CPU. */
  dtype?: "fp16" | "fp32";
}

export interface HyperGenModelSpecIngressTls {
  secretName?: string;
}

/** Optional Ingress in front of the Service. */
export interface HyperGenModelSpecIngress {
  enabled?: boolean;
  host?: string;
  className?: string;
  path?: string;
  tls?: HyperGenModelSpecIngressTls;
  annotations?: Record<string, string>;
}

/** An existing claim (claimName), or one the operator creates (size). */
export interface HyperGenModelSpecCachePvc {
  claimName?: string;
  size?: number | string;
  storageClassName?: string;
  accessMode?: "ReadWriteOnce" | "ReadWriteMany" | "ReadWriteOncePod";
}

/** Keep downloaded models on a PersistentVolumeClaim instead of an emptyDir. */
export interface HyperGenModelSpecCache {
  /** An existing claim (claimName), or one the operator creates (size). */
  pvc?: HyperGenModelSpecCachePvc;
}

export interface HyperGenModelSpecTolerationsItem {
  key?: string;
  operator?: "Exists" | "Equal";
  value?: string;
  effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
  tolerationSeconds?: number;
}

export interface HyperGenModelSpecEnvItem {
  name: string;
  value?: string;
  valueFrom?: Record<string, unknown>;
}

export interface HyperGenModelSpecImagePullSecretsItem {
  name: string;
}

/** The desired endpoint. */
export interface HyperGenModelSpec {
  /** Model id that /v1/models reports, e.g. stabilityai/stable-diffusion-xl-base-1.0. */
  model: string;
  /** Where the ONNX pipeline comes from. Default hf://<model>. */
  source?: HyperGenModelSpecSource;
  /** Desired pods (scale subresource). Unset leaves the Deployment's replicas to an autoscaler. */
  replicas?: number;
  /** Replicas from the pods' queue depth; the operator writes spec.replicas through the scale subresource. Absent, replicas are left to spec.replicas or a user's own HPA/KEDA. */
  autoscaling?: HyperGenModelSpecAutoscaling;
  /** GPUs per pod. count 0 runs on CPU. */
  gpu?: HyperGenModelSpecGpu;
  /** Extra cpu/memory requests and limits of the server container. */
  resources?: HyperGenModelSpecResources;
  /** Server image; default from the operator config. */
  image?: string;
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /** Where the API key comes from. Absent, the operator generates Secret <name>-api-key once. */
  apiKey?: HyperGenModelSpecApiKey;
  /** Server tuning and request defaults. */
  serving?: HyperGenModelSpecServing;
  /** Optional Ingress in front of the Service. */
  ingress?: HyperGenModelSpecIngress;
  /** Keep downloaded models on a PersistentVolumeClaim instead of an emptyDir. */
  cache?: HyperGenModelSpecCache;
  nodeSelector?: Record<string, string>;
  tolerations?: HyperGenModelSpecTolerationsItem[];
  /** Pod affinity rules (core/v1 Affinity), passed through unchanged. */
  affinity?: Record<string, unknown>;
  priorityClassName?: string;
  podLabels?: Record<string, string>;
  podAnnotations?: Record<string, string>;
  /** Extra environment of the server container (core/v1 EnvVar). */
  env?: HyperGenModelSpecEnvItem[];
  imagePullSecrets?: HyperGenModelSpecImagePullSecretsItem[];
}

export interface HyperGenModelStatusConditionsItem {
  type: string;
  status: "True" | "False" | "Unknown";
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface HyperGenModelStatusApiKeySecret {
  name?: string;
  key?: string;
}

/** Observed state, written by the operator. */
export interface HyperGenModelStatus {
  observedGeneration?: number;
  conditions?: HyperGenModelStatusConditionsItem[];
  replicas?: number;
  readyReplicas?: number;
  selector?: string;
  url?: string;
  ingressURL?: string;
  apiKeySecret?: HyperGenModelStatusApiKeySecret;
  model?: string;
}
