// The HyperGenModel object around the generated spec/status types, and the API's constants.
import type { HyperGenModelSpec, HyperGenModelStatus, HyperGenModelStatusConditionsItem } from './types.generated.js';

export type * from './types.generated.js';

export const GROUP = 'hypergen.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'HyperGenModel';
export const PLURAL = 'hypergenmodels';

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  creationTimestamp?: string;
}

export interface HyperGenModel {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: HyperGenModelSpec;
  status?: HyperGenModelStatus;
}

export type Condition = HyperGenModelStatusConditionsItem;

/** Where and how clients reach a model, as status reports it: worked out by the plan, copied by computeStatus. */
export interface ModelAccess {
  /** The in-cluster Service URL. */
  url: string;
  /** The Ingress URL, when the CR asks for an Ingress. */
  ingressURL?: string;
  apiKeySecret: { name: string; key: string };
}

export const ConditionType = {
  Ready: 'Ready',
  Progressing: 'Progressing',
  Degraded: 'Degraded',
} as const;

/** Condition reasons (CamelCase, stable: dashboards and `kubectl wait` users match on them). */
export const Reason = {
  Available: 'Available',
  ReconcileSucceeded: 'ReconcileSucceeded',
  RolloutInProgress: 'RolloutInProgress',
  ScaledToZero: 'ScaledToZero',
  SecretNotFound: 'SecretNotFound',
  SecretKeyNotFound: 'SecretKeyNotFound',
  ResourceConflict: 'ResourceConflict',
  ApplyFailed: 'ApplyFailed',
  Unschedulable: 'Unschedulable',
  ImagePullBackOff: 'ImagePullBackOff',
  CrashLoopBackOff: 'CrashLoopBackOff',
  ModelDownloadFailed: 'ModelDownloadFailed',
  ModelDownloading: 'ModelDownloading',
  ModelLoading: 'ModelLoading',
  MinimumReplicasUnavailable: 'MinimumReplicasUnavailable',
  AsExpected: 'AsExpected',
} as const;
export type ReasonName = (typeof Reason)[keyof typeof Reason];
