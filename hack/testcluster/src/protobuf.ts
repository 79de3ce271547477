// decodeProtobuf: a request body in the Kubernetes protobuf encoding (what kubectl's typed create commands send) ->
// the JSON the apiserver would serve for the same object; a field outside the known tables is a 415.
import { ApiError, badRequest } from './errors.js';
import { type JsonObject, type JsonValue, objectOr } from './types.js';

/**
 * Request bodies in the Kubernetes protobuf encoding (application/vnd.kubernetes.protobuf), which kubectl v1.32's
 * typed commands send (`create namespace|secret|configmap|deployment|service|serviceaccount|role|rolebinding|
 * clusterrole|clusterrolebinding|ingress|pdb|quota`, `run`): the "k8s\0" magic, then a runtime.Unknown envelope
 * whose raw bytes are the object's message. Decoded into the JSON the
 * apiserver would serve for the same Go object: zero scalars of non-pointer fields (always on the wire) are dropped as
 * encoding/json's omitempty drops them, and so are such zero values of fields not listed below. A set field that is
 * not listed is a clear 415 (send JSON instead).
 */
export const PROTOBUF = 'application/vnd.kubernetes.protobuf';

// Field tables: number -> "jsonName type". Types: string, bytes, int32, int64, bool, time, microtime, quantity,
// intorstr, skip (a status the server ignores on writes), map<string|bytes|quantity>, another message; a leading []
// repeats, a trailing ? marks a pointer field (its zero value is kept); the name - embeds a Go struct inline.
const M: Record<string, Record<number, string>> = {
  Unknown: { 1: 'typeMeta TypeMeta', 2: 'raw bytes', 3: 'contentEncoding string', 4: 'contentType string' },
  TypeMeta: { 1: 'apiVersion string', 2: 'kind string' },
  ObjectMeta: {
    1: 'name string', 2: 'generateName string', 3: 'namespace string', 4: 'selfLink string', 5: 'uid string', 6: 'resourceVersion string', 7: 'generation int64',
    8: 'creationTimestamp time', 9: 'deletionTimestamp time', 10: 'deletionGracePeriodSeconds int64?', 11: 'labels map<string>', 12: 'annotations map<string>',
    13: 'ownerReferences []OwnerReference', 14: 'finalizers []string',
  },
  OwnerReference: { 1: 'kind string', 3: 'name string', 4: 'uid string', 5: 'apiVersion string', 6: 'controller bool?', 7: 'blockOwnerDeletion bool?' },
  LabelSelector: { 1: 'matchLabels map<string>', 2: 'matchExpressions []LabelSelectorRequirement' },
  LabelSelectorRequirement: { 1: 'key string', 2: 'operator string', 3: 'values []string' },
  Namespace: { 1: 'metadata ObjectMeta', 2: 'spec NamespaceSpec', 3: 'status skip' },
  NamespaceSpec: { 1: 'finalizers []string' },
  ConfigMap: { 1: 'metadata ObjectMeta', 2: 'data map<string>', 3: 'binaryData map<bytes>', 4: 'immutable bool?' },
  Secret: { 1: 'metadata ObjectMeta', 2: 'data map<bytes>', 3: 'type string', 4: 'stringData map<string>', 5: 'immutable bool?' },
  ServiceAccount: { 1: 'metadata ObjectMeta', 2: 'secrets []ObjectReference', 3: 'imagePullSecrets []LocalObjectReference', 4: 'automountServiceAccountToken bool?' },
  ObjectReference: { 1: 'kind string', 2: 'namespace string', 3: 'name string', 4: 'uid string', 5: 'apiVersion string', 6: 'resourceVersion string', 7: 'fieldPath string' },
  LocalObjectReference: { 1: 'name string' },
  Service: { 1: 'metadata ObjectMeta', 2: 'spec ServiceSpec', 3: 'status skip' },
  ServiceSpec: {
    1: 'ports []ServicePort', 2: 'selector map<string>', 3: 'clusterIP string', 4: 'type string', 5: 'externalIPs []string', 7: 'sessionAffinity string', 10: 'externalName string',
    11: 'externalTrafficPolicy string', 13: 'publishNotReadyAddresses bool', 17: 'ipFamilyPolicy string?', 18: 'clusterIPs []string', 19: 'ipFamilies []string', 22: 'internalTrafficPolicy string?',
  },
  ServicePort: { 1: 'name string', 2: 'protocol string', 3: 'port int32', 4: 'targetPort intorstr', 5: 'nodePort int32', 6: 'appProtocol string?' },
  Pod: { 1: 'metadata ObjectMeta', 2: 'spec PodSpec', 3: 'status skip' },
  PodTemplateSpec: { 1: 'metadata ObjectMeta', 2: 'spec PodSpec' },
  PodSpec: {
    1: 'volumes []Volume', 2: 'containers []Container', 3: 'restartPolicy string', 4: 'terminationGracePeriodSeconds int64?', 5: 'activeDeadlineSeconds int64?', 6: 'dnsPolicy string',
    7: 'nodeSelector map<string>', 8: 'serviceAccountName string', 9: 'serviceAccount string', 10: 'nodeName string', 11: 'hostNetwork bool', 15: 'imagePullSecrets []LocalObjectReference',
    16: 'hostname string', 17: 'subdomain string', 19: 'schedulerName string', 20: 'initContainers []Container', 21: 'automountServiceAccountToken bool?', 24: 'priorityClassName string',
    30: 'enableServiceLinks bool?',
  },
  Container: {
    1: 'name string', 2: 'image string', 3: 'command []string', 4: 'args []string', 5: 'workingDir string', 6: 'ports []ContainerPort', 7: 'env []EnvVar', 8: 'resources ResourceRequirements',
    9: 'volumeMounts []VolumeMount', 10: 'livenessProbe Probe', 11: 'readinessProbe Probe', 13: 'terminationMessagePath string', 14: 'imagePullPolicy string', 16: 'stdin bool', 17: 'stdinOnce bool',
    18: 'tty bool', 19: 'envFrom []EnvFromSource', 20: 'terminationMessagePolicy string', 22: 'startupProbe Probe',
  },
  ContainerPort: { 1: 'name string', 2: 'hostPort int32', 3: 'containerPort int32', 4: 'protocol string', 5: 'hostIP string' },
  EnvVar: { 1: 'name string', 2: 'value string', 3: 'valueFrom EnvVarSource' },
  EnvVarSource: { 1: 'fieldRef ObjectFieldSelector', 3: 'configMapKeyRef KeySelector', 4: 'secretKeyRef KeySelector' },
  ObjectFieldSelector: { 1: 'apiVersion string', 2: 'fieldPath string' },
  KeySelector: { 1: '- LocalObjectReference', 2: 'key string', 3: 'optional bool?' },
  EnvFromSource: { 1: 'prefix string', 2: 'configMapRef EnvSource', 3: 'secretRef EnvSource' },
  EnvSource: { 1: '- LocalObjectReference', 2: 'optional bool?' },
  ResourceRequirements: { 1: 'limits map<quantity>', 2: 'requests map<quantity>' },
  VolumeMount: { 1: 'name string', 2: 'readOnly bool', 3: 'mountPath string', 4: 'subPath string' },
  Volume: { 1: 'name string', 2: '- VolumeSource' },
  VolumeSource: { 2: 'emptyDir EmptyDirVolumeSource', 6: 'secret SecretVolumeSource', 19: 'configMap ConfigMapVolumeSource' },
  EmptyDirVolumeSource: { 1: 'medium string', 2: 'sizeLimit quantity' },
  SecretVolumeSource: { 1: 'secretName string', 2: 'items []KeyToPath', 3: 'defaultMode int32?', 4: 'optional bool?' },
  ConfigMapVolumeSource: { 1: '- LocalObjectReference', 2: 'items []KeyToPath', 3: 'defaultMode int32?', 4: 'optional bool?' },
  KeyToPath: { 1: 'key string', 2: 'path string', 3: 'mode int32?' },
  Probe: { 1: '- ProbeHandler', 2: 'initialDelaySeconds int32', 3: 'timeoutSeconds int32', 4: 'periodSeconds int32', 5: 'successThreshold int32', 6: 'failureThreshold int32' },
  ProbeHandler: { 1: 'exec ExecAction', 2: 'httpGet HTTPGetAction', 3: 'tcpSocket TCPSocketAction' },
  ExecAction: { 1: 'command []string' },
  HTTPGetAction: { 1: 'path string', 2: 'port intorstr', 3: 'host string', 4: 'scheme string' },
  TCPSocketAction: { 1: 'port intorstr', 2: 'host string' },
  Event: {
    1: 'metadata ObjectMeta', 2: 'involvedObject ObjectReference', 3: 'reason string', 4: 'message string', 5: 'source EventSource', 6: 'firstTimestamp time', 7: 'lastTimestamp time',
    8: 'count int32', 9: 'type string', 10: 'eventTime microtime', 12: 'action string', 13: 'related ObjectReference', 14: 'reportingComponent string', 15: 'reportingInstance string',
  },
  EventSource: { 1: 'component string', 2: 'host string' },
  Deployment: { 1: 'metadata ObjectMeta', 2: 'spec DeploymentSpec', 3: 'status skip' },
  DeploymentSpec: {
    1: 'replicas int32?', 2: 'selector LabelSelector', 3: 'template PodTemplateSpec', 4: 'strategy DeploymentStrategy', 5: 'minReadySeconds int32', 6: 'revisionHistoryLimit int32?',
    7: 'paused bool', 9: 'progressDeadlineSeconds int32?',
  },
  DeploymentStrategy: { 1: 'type string', 2: 'rollingUpdate RollingUpdateDeployment' },
  RollingUpdateDeployment: { 1: 'maxUnavailable intorstr?', 2: 'maxSurge intorstr?' },
  ResourceQuota: { 1: 'metadata ObjectMeta', 2: 'spec ResourceQuotaSpec', 3: 'status skip' },
  ResourceQuotaSpec: { 1: 'hard map<quantity>', 2: 'scopes []string' },
  Role: { 1: 'metadata ObjectMeta', 2: 'rules []PolicyRule' },
  ClusterRole: { 1: 'metadata ObjectMeta', 2: 'rules []PolicyRule', 3: 'aggregationRule AggregationRule' },
  AggregationRule: { 1: 'clusterRoleSelectors []LabelSelector' },
  PolicyRule: { 1: 'verbs []string', 2: 'apiGroups []string', 3: 'resources []string', 4: 'resourceNames []string', 5: 'nonResourceURLs []string' },
  RoleBinding: { 1: 'metadata ObjectMeta', 2: 'subjects []Subject', 3: 'roleRef RoleRef' },
  ClusterRoleBinding: { 1: 'metadata ObjectMeta', 2: 'subjects []Subject', 3: 'roleRef RoleRef' },
  Subject: { 1: 'kind string', 2: 'apiGroup string', 3: 'name string', 4: 'namespace string' },
  RoleRef: { 1: 'apiGroup string', 2: 'kind string', 3: 'name string' },
  Ingress: { 1: 'metadata ObjectMeta', 2: 'spec IngressSpec', 3: 'status skip' },
  IngressSpec: { 1: 'defaultBackend IngressBackend', 2: 'tls []IngressTLS', 3: 'rules []IngressRule', 4: 'ingressClassName string?' },
  IngressBackend: { 3: 'resource TypedLocalObjectReference', 4: 'service IngressServiceBackend' },
  IngressServiceBackend: { 1: 'name string', 2: 'port ServiceBackendPort' },
  ServiceBackendPort: { 1: 'name string', 2: 'number int32' },
  TypedLocalObjectReference: { 1: 'apiGroup string?', 2: 'kind string', 3: 'name string' },
  IngressRule: { 1: 'host string', 2: '- IngressRuleValue' },
  IngressRuleValue: { 1: 'http HTTPIngressRuleValue' },
  HTTPIngressRuleValue: { 1: 'paths []HTTPIngressPath' },
  HTTPIngressPath: { 1: 'path string', 2: 'backend IngressBackend', 3: 'pathType string?' },
  IngressTLS: { 1: 'hosts []string', 2: 'secretName string' },
  PodDisruptionBudget: { 1: 'metadata ObjectMeta', 2: 'spec PodDisruptionBudgetSpec', 3: 'status skip' },
  PodDisruptionBudgetSpec: { 1: 'minAvailable intorstr?', 2: 'selector LabelSelector', 3: 'maxUnavailable intorstr?', 4: 'unhealthyPodEvictionPolicy string?' },
  Time: { 1: 'seconds int64', 2: 'nanos int32' },
  Quantity: { 1: 'string string' },
  IntOrString: { 1: 'type int64', 2: 'intVal int32', 3: 'strVal string' },
};
/** Top-level kinds whose message shares the kind's name (with their API versions). */
const RBAC = 'rbac.authorization.k8s.io/v1';
const KINDS: Record<string, string> = {
  Namespace: 'v1', ConfigMap: 'v1', Secret: 'v1', ServiceAccount: 'v1', Service: 'v1', Pod: 'v1', Event: 'v1', ResourceQuota: 'v1', Deployment: 'apps/v1',
  Role: RBAC, ClusterRole: RBAC, RoleBinding: RBAC, ClusterRoleBinding: RBAC, Ingress: 'networking.k8s.io/v1', PodDisruptionBudget: 'policy/v1',
};

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (this.pos >= this.buf.length || shift > 63n) throw badRequest('protobuf: truncated or overlong varint');
      const b = this.buf[this.pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
  }
  bytes(): Buffer {
    const n = Number(this.varint());
    if (this.pos + n > this.buf.length) throw badRequest('protobuf: length beyond the end of the message');
    return this.buf.subarray(this.pos, (this.pos += n));
  }
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 2) this.bytes();
    else if (wireType === 1 || wireType === 5) {
      const n = wireType === 1 ? 8 : 4;
      if (this.pos + n > this.buf.length) throw badRequest('protobuf: truncated fixed-width field');
      this.pos += n;
    } else throw badRequest(`protobuf: unsupported wire type ${wireType}`);
  }
}

const isZero = (v: unknown) => v === '' || v === 0 || v === false;

/** Consumes a zero scalar or empty string/message (what a non-pointer field nobody set looks like); false otherwise. */
function isZeroOnWire(r: Reader, wireType: number): boolean {
  const at = r.pos;
  if ((wireType === 0 && r.varint() === 0n) || (wireType === 2 && r.bytes().length === 0)) return true;
  r.pos = at;
  return false;
}

function scalar(r: Reader, type: string, wireType: number, where: string): JsonValue | undefined {
  const expect = (wt: number) => {
    if (wireType !== wt) throw badRequest(`protobuf: ${where} has wire type ${wireType}, expected ${wt}`);
  };
  switch (type) {
    case 'string':
      expect(2);
      return r.bytes().toString('utf8');
    case 'bytes':
      expect(2);
      return r.bytes().toString('base64');
    case 'int32':
      expect(0);
      return Number(BigInt.asIntN(32, r.varint()));
    case 'int64':
      expect(0);
      return Number(BigInt.asIntN(64, r.varint()));
    case 'bool':
      expect(0);
      return r.varint() !== 0n;
  }
  expect(2);
  const sub = r.bytes();
  switch (type) {
    case 'time':
    case 'microtime': {
      const t = message(sub, 'Time');
      if (!t.seconds && !t.nanos) return undefined;
      const date = new Date(Number(t.seconds) * 1000 + Math.floor(Number(t.nanos ?? 0) / 1e6));
      if (Number.isNaN(date.getTime())) throw badRequest(`protobuf: time out of range (${t.seconds} s)`);
      const iso = date.toISOString();
      return type === 'time' ? iso.replace(/\.\d+Z$/, 'Z') : iso.replace(/\.(\d+)Z$/, `.${String(Math.floor(Number(t.nanos ?? 0) / 1000)).padStart(6, '0')}Z`);
    }
    case 'quantity':
      return message(sub, 'Quantity').string ?? '';
    case 'intorstr': {
      const v = message(sub, 'IntOrString');
      return v.type === 1 ? (v.strVal ?? '') : (v.intVal ?? 0);
    }
    case 'skip':
      return {};
  }
  return message(sub, type);
}

function message(buf: Buffer, name: string): JsonObject {
  const fields = M[name];
  if (!fields) throw new ApiError(415, 'UnsupportedMediaType', `the test API server cannot decode ${name} from protobuf; send application/json`);
  const out: JsonObject = {};
  const r = new Reader(buf);
  while (!r.done) {
    const key = r.varint();
    const no = Number(key >> 3n);
    const wireType = Number(key & 7n);
    const spec = fields[no];
    if (!spec && isZeroOnWire(r, wireType)) continue;
    if (!spec) throw new ApiError(415, 'UnsupportedMediaType', `the test API server cannot decode field ${no} of ${name} from protobuf; send application/json`);
    const [json, rawType] = spec.split(' ') as [string, string];
    const repeated = rawType.startsWith('[]');
    const pointer = rawType.endsWith('?');
    const type = rawType.replace(/^\[\]/, '').replace(/\?$/, '');
    const map = /^map<(\w+)>$/.exec(type)?.[1];
    if (map) {
      if (wireType !== 2) throw badRequest(`protobuf: ${name}.${json} has wire type ${wireType}, expected 2`);
      const entry = new Reader(r.bytes());
      let k = '';
      let v: JsonValue | undefined = '';
      while (!entry.done) {
        const ek = entry.varint();
        if (ek >> 3n === 1n) k = String(scalar(entry, 'string', Number(ek & 7n), `${name}.${json} key`));
        else if (ek >> 3n === 2n) v = scalar(entry, map, Number(ek & 7n), `${name}.${json} value`);
        else entry.skip(Number(ek & 7n));
      }
      // defineProperty: a "__proto__" label key is data, not the map's prototype.
      Object.defineProperty((out[json] ??= {}), k, { value: v, enumerable: true, writable: true, configurable: true });
      continue;
    }
    const v = scalar(r, type, wireType, `${name}.${json}`);
    if (json === '-') Object.assign(out, v);
    else if (repeated) {
      // An item that decodes to nothing (a zero time) is what JSON writes it as in a list: null.
      const list = out[json];
      if (Array.isArray(list)) list.push(v ?? null);
      else out[json] = [v ?? null];
    }
    else if (v !== undefined && (pointer || !isZero(v))) out[json] = v;
  }
  return out;
}

/** Decodes a protobuf request body (magic + runtime.Unknown) into a JSON object with apiVersion and kind. */
export function decodeProtobuf(body: Buffer): JsonObject {
  if (body.length < 4 || body.subarray(0, 4).toString('latin1') !== 'k8s\0') throw badRequest('protobuf: the body does not start with the Kubernetes protobuf magic number');
  const unknown = message(body.subarray(4), 'Unknown');
  const { apiVersion, kind } = objectOr(unknown.typeMeta);
  if (typeof kind !== 'string' || !kind || KINDS[kind] !== apiVersion) throw new ApiError(415, 'UnsupportedMediaType', `the test API server cannot decode ${apiVersion ?? ''} ${kind ?? 'objects'} from protobuf; send application/json`);
  return { apiVersion, kind, ...message(Buffer.from(String(unknown.raw ?? ''), 'base64'), kind) };
}
