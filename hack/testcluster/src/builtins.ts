// The built-in resources the test cluster serves (core, apps, networking, coordination, rbac, events, ...): their
// ResourceDefs with upstream's defaulting, the validation clients trip over, field selectors and printer tables.
import { type BuiltinSchemas, buildBuiltinSchemas } from './builtin-schemas.js';
import { type FieldError, badRequest } from './errors.js';
import { age } from './humanize.js';
import { parseQuantity } from './quantity.js';
import { hostErrors, labelNameErrors } from './validation.js';
import { type ResourceDef, type TableColumn, metaFieldSelectors } from './resource.js';
import { type FieldGetter, labelSelectorString, labelSelectorFromObject, matchesLabels } from './selectors.js';
import { type Json, deepEqual, isPlainObject, getPath } from './types.js';

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const NAME_COL: TableColumn = { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.' };
const AGE_COL: TableColumn = { name: 'Age', type: 'string', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' };

interface BuiltinSpec {
  group: string;
  version: string;
  resource: string;
  kind: string;
  cls: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  status?: boolean;
  scale?: ResourceDef['scale'];
  generation?: boolean;
  storage?: string;
  storageVersion?: string;
  fieldSelectors?: Record<string, FieldGetter>;
  columns?: Array<{ col: TableColumn; cell: (o: Json) => Json }>;
  /** false: no leading Name column (the columns list their own) */
  nameColumn?: false;
  defaults?: ResourceDef['defaults'];
  validate?: ResourceDef['validate'];
  fromStorage?: ResourceDef['fromStorage'];
  toStorage?: ResourceDef['toStorage'];
}

// ---- defaulting (the subset of upstream SetDefaults_* that shows up in objects clients read back) ----

function defaultProbe(p: Json): void {
  if (!p) return;
  p.timeoutSeconds ??= 1;
  p.periodSeconds ??= 10;
  p.successThreshold ??= 1;
  p.failureThreshold ??= 3;
  if (p.httpGet) p.httpGet.scheme ??= 'HTTP';
}

function defaultContainer(c: Json): void {
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  if (!c.imagePullPolicy && typeof c.image === 'string') {
    const tag = /:([^/:@]+)$/.exec(c.image.split('@')[0] ?? '')?.[1];
    c.imagePullPolicy = c.image.includes('@') || (tag && tag !== 'latest') ? 'IfNotPresent' : 'Always';
  }
  c.resources ??= {};
  for (const p of c.ports ?? []) p.protocol ??= 'TCP';
  for (const e of c.env ?? []) if (e.valueFrom?.fieldRef) e.valueFrom.fieldRef.apiVersion ??= 'v1';
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
}

export function defaultPodSpec(s: Json): void {
  if (!isPlainObject(s)) return;
  s.restartPolicy ??= 'Always';
  s.terminationGracePeriodSeconds ??= 30;
  s.dnsPolicy ??= 'ClusterFirst';
  s.securityContext ??= {};
  s.schedulerName ??= 'default-scheduler';
  for (const c of [...(s.containers ?? []), ...(s.initContainers ?? [])]) defaultContainer(c);
  for (const v of s.volumes ?? []) {
    if (v.secret) v.secret.defaultMode ??= 420;
    if (v.configMap) v.configMap.defaultMode ??= 420;
    if (v.projected) v.projected.defaultMode ??= 420;
  }
}

function defaultDeployment(d: Json): void {
  const s = (d.spec ??= {});
  s.replicas ??= 1;
  s.revisionHistoryLimit ??= 10;
  s.progressDeadlineSeconds ??= 600;
  s.strategy ??= {};
  s.strategy.type ??= 'RollingUpdate';
  if (s.strategy.type === 'RollingUpdate') {
    s.strategy.rollingUpdate ??= {};
    s.strategy.rollingUpdate.maxSurge ??= '25%';
    s.strategy.rollingUpdate.maxUnavailable ??= '25%';
  }
  s.template ??= {};
  s.template.metadata ??= {};
  defaultPodSpec((s.template.spec ??= {}));
}

function defaultPod(p: Json): void {
  const s = (p.spec ??= {});
  defaultPodSpec(s);
  // Upstream fills limits into missing requests on Pods only (SetDefaults_Pod), never on pod templates.
  for (const c of [...(s.containers ?? []), ...(s.initContainers ?? [])]) {
    if (!c.resources?.limits) continue;
    c.resources.requests ??= {};
    for (const [k, v] of Object.entries(c.resources.limits)) c.resources.requests[k] ??= v;
  }
  s.serviceAccountName ??= s.serviceAccount ?? 'default';
  s.serviceAccount ??= s.serviceAccountName;
  s.enableServiceLinks ??= true;
  s.priority ??= 0;
  s.preemptionPolicy ??= 'PreemptLowerPriority';
  s.tolerations ??= [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  ];
  p.status ??= {};
  p.status.phase ??= 'Pending';
  p.status.qosClass ??= qosClass(s);
}

function qosClass(spec: Json): string {
  const cs: Json[] = spec.containers ?? [];
  const has = (c: Json, k: 'requests' | 'limits') => Object.keys(c.resources?.[k] ?? {}).some((r) => r === 'cpu' || r === 'memory');
  if (!cs.some((c) => has(c, 'requests') || has(c, 'limits'))) return 'BestEffort';
  const guaranteed = cs.every((c) => ['cpu', 'memory'].every((r) => c.resources?.limits?.[r] !== undefined && String(c.resources?.requests?.[r] ?? c.resources.limits[r]) === String(c.resources.limits[r])));
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function makeServiceDefaults(allocateIP: () => string): ResourceDef['defaults'] {
  return (svc, old) => {
    const s = (svc.spec ??= {});
    s.type ??= 'ClusterIP';
    s.sessionAffinity ??= 'None';
    if (s.type !== 'ExternalName') {
      s.clusterIP ??= old?.spec?.clusterIP ?? allocateIP();
      s.clusterIPs ??= s.clusterIP === 'None' ? ['None'] : [s.clusterIP];
      s.ipFamilies ??= ['IPv4'];
      s.ipFamilyPolicy ??= 'SingleStack';
      s.internalTrafficPolicy ??= 'Cluster';
    }
    for (const p of s.ports ?? []) {
      p.protocol ??= 'TCP';
      p.targetPort ??= p.port;
    }
    svc.status ??= { loadBalancer: {} };
  };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function defaultSecret(s: Json, _old: Json): void {
  // data is []byte in Go: JSON decoding rejects values that are not standard base64.
  for (const v of Object.values<Json>(isPlainObject(s.data) ? s.data : {})) {
    const why = typeof v !== 'string' ? `json: cannot unmarshal ${typeof v} into Go struct field Secret.data of type []uint8` : BASE64.test(v) ? '' : `illegal base64 data at input byte ${v.search(/[^A-Za-z0-9+/=]/) < 0 ? v.length : v.search(/[^A-Za-z0-9+/=]/)}`;
    if (why) throw badRequest(`Secret in version "v1" cannot be handled as a Secret: ${why}`);
  }
  s.type ??= 'Opaque';
  if (isPlainObject(s.stringData)) {
    s.data ??= {};
    for (const [k, v] of Object.entries(s.stringData)) s.data[k] = Buffer.from(String(v)).toString('base64');
  }
  delete s.stringData;
}

function defaultNamespace(ns: Json): void {
  ns.metadata.labels = { ...(ns.metadata.labels ?? {}), 'kubernetes.io/metadata.name': ns.metadata.name };
  ns.spec ??= {};
  ns.spec.finalizers ??= ['kubernetes'];
  ns.status ??= {};
  ns.status.phase ??= 'Active';
}

function defaultCrd(crd: Json): void {
  crd.spec.conversion ??= { strategy: 'None' };
  for (const v of crd.spec.versions ?? []) {
    for (const c of v.additionalPrinterColumns ?? []) c.priority ??= undefined;
  }
}

// ---- validation (what clients are likely to trip over) ----

function defaultPvc(pvc: Json): void {
  (pvc.spec ??= {}).volumeMode ??= 'Filesystem';
  (pvc.status ??= {}).phase ??= 'Pending';
}

/** Access modes and a storage request are required; the spec is frozen after creation (but what binding and resizing touch). */
function validatePvc(pvc: Json, old: Json | undefined): FieldError[] {
  const s = pvc.spec ?? {};
  const errs: FieldError[] = [];
  if (!s.accessModes?.length) errs.push({ type: 'FieldValueRequired', field: 'spec.accessModes', detail: 'at least 1 access mode is required' });
  if (s.resources?.requests?.storage === undefined) errs.push({ type: 'FieldValueRequired', field: 'spec.resources[storage]', detail: '' });
  if (old) {
    const bound = old.status?.phase === 'Bound';
    const mutable = (x: Json) => ({ ...x, volumeAttributesClassName: undefined, volumeName: old.spec?.volumeName ? x.volumeName : undefined, resources: bound ? { ...x.resources, requests: undefined } : x.resources });
    if (!deepEqual(mutable(s), mutable(old.spec ?? {}))) errs.push({ type: 'FieldValueForbidden', field: 'spec', detail: 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims' });
  }
  return errs;
}

/** What networking's ValidateIngressSpec rejects most often: hosts, path types and paths, backends. */
function validateIngress(ing: Json): FieldError[] {
  const s = ing.spec ?? {};
  const errs: FieldError[] = [];
  if (!s.defaultBackend && !(s.rules ?? []).length) errs.push({ type: 'FieldValueInvalid', field: 'spec', value: s.rules ?? null, detail: 'either `defaultBackend` or `rules` must be specified' });
  const backend = (b: Json, field: string) => {
    if (!b?.service) return errs.push({ type: 'FieldValueInvalid', field, value: '', detail: 'resource or service backend is required' });
    if (!b.service.name) errs.push({ type: 'FieldValueRequired', field: `${field}.service.name`, detail: '' });
    if (b.service.port?.name && b.service.port?.number) errs.push({ type: 'FieldValueInvalid', field, value: '', detail: 'cannot set both port name & port number' });
    else if (!b.service.port?.name && !b.service.port?.number) errs.push({ type: 'FieldValueRequired', field, detail: 'port name or number is required' });
  };
  if (s.defaultBackend) backend(s.defaultBackend, 'spec.defaultBackend');
  (s.rules ?? []).forEach((r: Json, i: number) => {
    if (r.host) errs.push(...hostErrors(r.host, `spec.rules[${i}].host`));
    if (r.http && !(r.http.paths ?? []).length) errs.push({ type: 'FieldValueRequired', field: `spec.rules[${i}].http.paths`, detail: '' });
    (r.http?.paths ?? []).forEach((p: Json, j: number) => {
      const at = `spec.rules[${i}].http.paths[${j}]`;
      if (!p.pathType) return errs.push({ type: 'FieldValueRequired', field: `${at}.pathType`, detail: 'pathType must be specified' });
      if (!['Exact', 'Prefix', 'ImplementationSpecific'].includes(p.pathType)) errs.push({ type: 'FieldValueNotSupported', field: `${at}.pathType`, value: p.pathType, detail: 'supported values: "Exact", "ImplementationSpecific", "Prefix"' });
      else if ((p.pathType !== 'ImplementationSpecific' || p.path) && !String(p.path ?? '').startsWith('/')) errs.push({ type: 'FieldValueInvalid', field: `${at}.path`, value: p.path ?? '', detail: 'must be an absolute path' });
      backend(p.backend, `${at}.backend`);
    });
  });
  return errs;
}

/** printEvent's Last Seen: the last timestamp (or the first), with the count and first sighting when repeated. */
const eventFirstSeen = (o: Json): string => age(o.firstTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp);
function eventLastSeen(o: Json): string {
  if (o.series) return age(o.series.lastObservedTime);
  const last = o.lastTimestamp ? age(o.lastTimestamp) : eventFirstSeen(o);
  return (o.count ?? 0) > 1 ? `${last} (x${o.count} over ${eventFirstSeen(o)})` : last;
}

/** ConfigMaps and Secrets marked `immutable: true` keep their data (and the mark) for good. */
function validateImmutableData(o: Json, old: Json | undefined): FieldError[] {
  if (old?.immutable !== true) return [];
  const forbidden = (field: string): FieldError => ({ type: 'FieldValueForbidden', field, detail: 'field is immutable when `immutable` is set' });
  return [...(o.immutable !== true ? [forbidden('immutable')] : []), ...['data', 'binaryData'].filter((k) => k in old || k in o).filter((k) => !deepEqual(o[k], old[k])).map(forbidden)];
}

function validateDeployment(d: Json, old: Json | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const s = d.spec ?? {};
  if (old && !deepEqual(old.spec?.selector, s.selector)) errs.push({ type: 'FieldValueInvalid', field: 'spec.selector', value: s.selector, detail: 'field is immutable' });
  if (typeof s.replicas === 'number' && s.replicas < 0) errs.push({ type: 'FieldValueInvalid', field: 'spec.replicas', value: s.replicas, detail: 'must be greater than or equal to 0' });
  const sel = labelSelectorFromObject(s.selector);
  if (!s.selector || (sel && sel.length === 0)) errs.push({ type: 'FieldValueRequired', field: 'spec.selector', detail: '' });
  else if (sel && !matchesLabels(sel, s.template?.metadata?.labels)) {
    errs.push({ type: 'FieldValueInvalid', field: 'spec.template.metadata.labels', value: s.template?.metadata?.labels ?? {}, detail: '`selector` does not match template `labels`' });
  }
  errs.push(...validatePodSpec(s.template?.spec, 'spec.template.spec'));
  const restart = s.template?.spec?.restartPolicy;
  if (restart !== 'Always') errs.push({ type: 'FieldValueNotSupported', field: 'spec.template.spec.restartPolicy', value: restart ?? '', detail: 'supported values: "Always"' });
  if (s.strategy?.type === 'Recreate' && s.strategy.rollingUpdate) errs.push({ type: 'FieldValueForbidden', field: 'spec.strategy.rollingUpdate', detail: "may not be specified when strategy `type` is 'Recreate'" });
  const ru = s.strategy?.type === 'RollingUpdate' ? s.strategy.rollingUpdate : undefined;
  const zero = (v: Json) => v === 0 || v === '0%' || v === '0';
  if (ru && zero(ru.maxSurge) && zero(ru.maxUnavailable)) errs.push({ type: 'FieldValueInvalid', field: 'spec.strategy.rollingUpdate.maxUnavailable', value: ru.maxUnavailable, detail: 'may not be 0 when `maxSurge` is 0' });
  return errs;
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const ENV_NAME_MSG = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";

/** validation.IsValidPortName (IANA_SVC_NAME) */
function portNameErrors(n: string): string[] {
  const errs: string[] = [];
  if (n.length > 15) errs.push('must be no more than 15 characters');
  if (!/^[-a-z0-9]+$/.test(n)) errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(n)) errs.push('must contain at least one letter (a-z)');
  if (n.includes('--')) errs.push('must not contain consecutive hyphens');
  if (n.startsWith('-') || n.endsWith('-')) errs.push('must not begin or end with a hyphen');
  return errs;
}

/** Resources without a domain (or in kubernetes.io) may be overcommitted; extended ones (nvidia.com/gpu) may not. */
const overcommitAllowed = (r: string) => (!r.includes('/') || r.split('/')[0]!.endsWith('kubernetes.io')) && !r.startsWith('hugepages-');

function validatePodSpec(spec: Json, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const cs: Json[] = spec?.containers ?? [];
  if (cs.length === 0) errs.push({ type: 'FieldValueRequired', field: `${path}.containers`, detail: '' });
  const volumes = new Set<string>();
  (spec?.volumes ?? []).forEach((v: Json, i: number) => {
    if (volumes.has(v.name)) errs.push({ type: 'FieldValueDuplicate', field: `${path}.volumes[${i}].name`, value: v.name });
    volumes.add(v.name);
  });
  const names = new Set<string>();
  const check = (c: Json, at: string) => {
    if (!c.name) errs.push({ type: 'FieldValueRequired', field: `${at}.name`, detail: '' });
    else if (names.has(c.name)) errs.push({ type: 'FieldValueDuplicate', field: `${at}.name`, value: c.name });
    else errs.push(...labelNameErrors(c.name, `${at}.name`));
    names.add(c.name);
    if (!c.image) errs.push({ type: 'FieldValueRequired', field: `${at}.image`, detail: '' });
    (c.ports ?? []).forEach((p: Json, j: number) => {
      if (p.name) for (const m of portNameErrors(p.name)) errs.push({ type: 'FieldValueInvalid', field: `${at}.ports[${j}].name`, value: p.name, detail: m });
    });
    (c.env ?? []).forEach((e: Json, j: number) => {
      if (!e.name) errs.push({ type: 'FieldValueRequired', field: `${at}.env[${j}].name`, detail: '' });
      else if (!ENV_NAME.test(e.name)) errs.push({ type: 'FieldValueInvalid', field: `${at}.env[${j}].name`, value: e.name, detail: ENV_NAME_MSG });
    });
    (c.volumeMounts ?? []).forEach((m: Json, j: number) => {
      if (!volumes.has(m.name)) errs.push({ type: 'FieldValueNotFound', field: `${at}.volumeMounts[${j}].name`, value: m.name });
    });
    const limits: Json = c.resources?.limits ?? {};
    for (const [r, q] of Object.entries<Json>(c.resources?.requests ?? {})) {
      const limit = limits[r];
      const field = `${at}.resources.requests`;
      if (limit === undefined) {
        if (!overcommitAllowed(r)) errs.push({ type: 'FieldValueRequired', field: `${at}.resources.limits`, detail: 'Limit must be set for non overcommitable resources' });
      } else if (!overcommitAllowed(r) && parseQuantity(q) !== parseQuantity(limit)) errs.push({ type: 'FieldValueInvalid', field, value: String(q), detail: `must be equal to ${r} limit of ${limit}` });
      else if (parseQuantity(q) > parseQuantity(limit)) errs.push({ type: 'FieldValueInvalid', field, value: String(q), detail: `must be less than or equal to ${r} limit of ${limit}` });
    }
  };
  cs.forEach((c, i) => check(c, `${path}.containers[${i}]`));
  (spec?.initContainers ?? []).forEach((c: Json, i: number) => check(c, `${path}.initContainers[${i}]`));
  return errs;
}

function validateService(s: Json): FieldError[] {
  const errs: FieldError[] = [];
  const ports: Json[] = s.spec?.ports ?? [];
  if (s.spec?.type !== 'ExternalName' && s.spec?.clusterIP !== 'None' && ports.length === 0) errs.push({ type: 'FieldValueRequired', field: 'spec.ports', detail: '' });
  ports.forEach((p, i) => {
    if (typeof p.port !== 'number' || p.port < 1 || p.port > 65535) errs.push({ type: 'FieldValueInvalid', field: `spec.ports[${i}].port`, value: p.port, detail: 'must be between 1 and 65535, inclusive' });
    if (ports.length > 1 && !p.name) errs.push({ type: 'FieldValueRequired', field: `spec.ports[${i}].name`, detail: '' });
    if (p.name) errs.push(...labelNameErrors(p.name, `spec.ports[${i}].name`));
    if (typeof p.targetPort === 'string') for (const m of portNameErrors(p.targetPort)) errs.push({ type: 'FieldValueInvalid', field: `spec.ports[${i}].targetPort`, value: p.targetPort, detail: m });
    else if (typeof p.targetPort === 'number' && (p.targetPort < 1 || p.targetPort > 65535)) errs.push({ type: 'FieldValueInvalid', field: `spec.ports[${i}].targetPort`, value: p.targetPort, detail: 'must be between 1 and 65535, inclusive' });
  });
  return errs;
}

// ---- Events: events.k8s.io/v1 is a view of the core v1 Event objects ----

const eventRenames: Array<[string, string]> = [
  ['involvedObject', 'regarding'],
  ['message', 'note'],
  ['reportingComponent', 'reportingController'],
  ['source', 'deprecatedSource'],
  ['firstTimestamp', 'deprecatedFirstTimestamp'],
  ['lastTimestamp', 'deprecatedLastTimestamp'],
  ['count', 'deprecatedCount'],
];

function renameFields(o: Json, pairs: Array<[string, string]>, apiVersion: string): Json {
  const out: Json = { ...o, apiVersion };
  for (const [from, to] of pairs) {
    delete out[from];
    if (o[from] !== undefined) out[to] = o[from];
  }
  return out;
}

const coreToEventsV1 = (o: Json): Json => renameFields(o, eventRenames, 'events.k8s.io/v1');
const eventsV1ToCore = (o: Json): Json => renameFields(o, eventRenames.map(([a, b]) => [b, a]), 'v1');

// ---- tables ----

const podReady = (p: Json): string => {
  const st: Json[] = p.status?.containerStatuses ?? [];
  return `${st.filter((c) => c.ready).length}/${(p.spec?.containers ?? []).length}`;
};

function podStatusReason(p: Json): string {
  if (p.metadata?.deletionTimestamp) return 'Terminating';
  for (const c of p.status?.containerStatuses ?? []) {
    if (c.state?.waiting?.reason) return c.state.waiting.reason;
    if (c.state?.terminated?.reason) return c.state.terminated.reason;
  }
  return p.status?.reason ?? p.status?.phase ?? 'Unknown';
}

const formatPorts = (ports: Json[] | undefined): string =>
  (ports ?? []).map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',') || '<none>';

const str = (v: Json): string => (v === undefined || v === null || v === '' ? '<none>' : String(v));

// ---- the resource list ----

const podFields: Record<string, FieldGetter> = {
  'spec.nodeName': (o) => o.spec?.nodeName ?? '',
  'spec.restartPolicy': (o) => o.spec?.restartPolicy,
  'spec.schedulerName': (o) => o.spec?.schedulerName,
  'spec.serviceAccountName': (o) => o.spec?.serviceAccountName,
  'spec.hostNetwork': (o) => String(!!o.spec?.hostNetwork),
  'status.phase': (o) => o.status?.phase,
  'status.podIP': (o) => o.status?.podIP ?? '',
  'status.nominatedNodeName': (o) => o.status?.nominatedNodeName ?? '',
};

const involved = (k: string): FieldGetter => (o) => o.involvedObject?.[k] ?? '';
const eventFields: Record<string, FieldGetter> = {
  'involvedObject.kind': involved('kind'),
  'involvedObject.namespace': involved('namespace'),
  'involvedObject.name': involved('name'),
  'involvedObject.uid': involved('uid'),
  'involvedObject.apiVersion': involved('apiVersion'),
  'involvedObject.resourceVersion': involved('resourceVersion'),
  'involvedObject.fieldPath': involved('fieldPath'),
  'regarding.kind': involved('kind'),
  'regarding.namespace': involved('namespace'),
  'regarding.name': involved('name'),
  'regarding.uid': involved('uid'),
  reason: (o) => o.reason ?? '',
  reportingComponent: (o) => o.reportingComponent ?? '',
  reportingController: (o) => o.reportingComponent ?? '',
  source: (o) => o.source?.component ?? '',
  type: (o) => o.type ?? '',
};

export function builtinSpecs(allocateIP: () => string): BuiltinSpec[] {
  return [
    {
      group: '', version: 'v1', resource: 'namespaces', kind: 'Namespace', cls: 'V1Namespace', namespaced: false, shortNames: ['ns'], status: true,
      fieldSelectors: { 'status.phase': (o) => o.status?.phase },
      columns: [{ col: { name: 'Status', type: 'string', description: 'The status of the namespace' }, cell: (o) => o.status?.phase }],
      defaults: defaultNamespace,
    },
    {
      group: '', version: 'v1', resource: 'nodes', kind: 'Node', cls: 'V1Node', namespaced: false, shortNames: ['no'], status: true,
      fieldSelectors: { 'spec.unschedulable': (o) => String(!!o.spec?.unschedulable) },
      columns: [
        { col: { name: 'Status', type: 'string' }, cell: (o) => ((o.status?.conditions ?? []).find((c: Json) => c.type === 'Ready')?.status === 'True' ? 'Ready' : 'NotReady') },
        { col: { name: 'Roles', type: 'string' }, cell: () => '<none>' },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
        { col: { name: 'Version', type: 'string' }, cell: (o) => o.status?.nodeInfo?.kubeletVersion ?? '' },
      ],
    },
    {
      group: '', version: 'v1', resource: 'pods', kind: 'Pod', cls: 'V1Pod', namespaced: true, shortNames: ['po'], categories: ['all'], status: true,
      fieldSelectors: podFields,
      columns: [
        { col: { name: 'Ready', type: 'string', description: 'The aggregate readiness state of this pod for accepting traffic.' }, cell: podReady },
        { col: { name: 'Status', type: 'string', description: 'The aggregate status of the containers in this pod.' }, cell: podStatusReason },
        { col: { name: 'Restarts', type: 'string', description: 'The number of times the containers in this pod have been restarted.' }, cell: (o) => String((o.status?.containerStatuses ?? []).reduce((n: number, c: Json) => n + (c.restartCount ?? 0), 0)) },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
        { col: { name: 'IP', type: 'string', priority: 1 }, cell: (o) => str(o.status?.podIP) },
        { col: { name: 'Node', type: 'string', priority: 1 }, cell: (o) => str(o.spec?.nodeName) },
      ],
      defaults: (o) => defaultPod(o),
      validate: (o) => validatePodSpec(o.spec, 'spec'),
    },
    {
      group: '', version: 'v1', resource: 'services', kind: 'Service', cls: 'V1Service', namespaced: true, shortNames: ['svc'], categories: ['all'], status: true,
      columns: [
        { col: { name: 'Type', type: 'string' }, cell: (o) => o.spec?.type },
        { col: { name: 'Cluster-IP', type: 'string' }, cell: (o) => str(o.spec?.clusterIP) },
        { col: { name: 'External-IP', type: 'string' }, cell: () => '<none>' },
        { col: { name: 'Port(s)', type: 'string' }, cell: (o) => formatPorts(o.spec?.ports) },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
        { col: { name: 'Selector', type: 'string', priority: 1 }, cell: (o) => Object.entries(o.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '<none>' },
      ],
      defaults: makeServiceDefaults(allocateIP),
      validate: validateService,
    },
    { group: '', version: 'v1', resource: 'endpoints', kind: 'Endpoints', cls: 'V1Endpoints', namespaced: true, shortNames: ['ep'] },
    {
      group: '', version: 'v1', resource: 'secrets', kind: 'Secret', cls: 'V1Secret', namespaced: true,
      fieldSelectors: { type: (o) => o.type },
      columns: [
        { col: { name: 'Type', type: 'string' }, cell: (o) => o.type },
        { col: { name: 'Data', type: 'string' }, cell: (o) => Object.keys(o.data ?? {}).length },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
      ],
      defaults: defaultSecret,
      validate: validateImmutableData,
    },
    {
      group: '', version: 'v1', resource: 'configmaps', kind: 'ConfigMap', cls: 'V1ConfigMap', namespaced: true, shortNames: ['cm'],
      columns: [
        { col: { name: 'Data', type: 'string' }, cell: (o) => Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
      ],
      validate: validateImmutableData,
    },
    {
      group: '', version: 'v1', resource: 'serviceaccounts', kind: 'ServiceAccount', cls: 'V1ServiceAccount', namespaced: true, shortNames: ['sa'],
      columns: [
        { col: { name: 'Secrets', type: 'string' }, cell: (o) => (o.secrets ?? []).length },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
      ],
    },
    // Listed by `kubectl describe namespace` ("No resource quota." / "No LimitRange resource.").
    { group: '', version: 'v1', resource: 'resourcequotas', kind: 'ResourceQuota', cls: 'V1ResourceQuota', namespaced: true, shortNames: ['quota'], status: true },
    { group: '', version: 'v1', resource: 'limitranges', kind: 'LimitRange', cls: 'V1LimitRange', namespaced: true, shortNames: ['limits'] },
    { group: '', version: 'v1', resource: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', cls: 'V1PersistentVolumeClaim', namespaced: true, shortNames: ['pvc'], status: true, defaults: defaultPvc, validate: validatePvc },
    {
      group: '', version: 'v1', resource: 'events', kind: 'Event', cls: 'CoreV1Event', namespaced: true, shortNames: ['ev'], storage: 'events', storageVersion: 'v1',
      fieldSelectors: eventFields,
      // As printEvent: no leading Name column (Name is the last, wide-only one).
      nameColumn: false,
      columns: [
        { col: { name: 'Last Seen', type: 'string' }, cell: eventLastSeen },
        { col: { name: 'Type', type: 'string' }, cell: (o) => o.type },
        { col: { name: 'Reason', type: 'string' }, cell: (o) => o.reason },
        { col: { name: 'Object', type: 'string' }, cell: (o) => (o.involvedObject?.kind ? `${String(o.involvedObject.kind).toLowerCase()}/${o.involvedObject?.name ?? ''}` : (o.involvedObject?.name ?? '')) },
        { col: { name: 'Subobject', type: 'string', priority: 1 }, cell: (o) => o.involvedObject?.fieldPath ?? '' },
        { col: { name: 'Source', type: 'string', priority: 1 }, cell: (o) => [o.source?.component || o.reportingComponent, o.source?.host || o.reportingInstance].filter(Boolean).join(', ') },
        { col: { name: 'Message', type: 'string' }, cell: (o) => String(o.message ?? '').trim() },
        { col: { name: 'First Seen', type: 'string', priority: 1 }, cell: eventFirstSeen },
        { col: { name: 'Count', type: 'string', priority: 1 }, cell: (o) => o.series?.count ?? o.count ?? 0 },
        { col: { name: 'Name', type: 'string', priority: 1 }, cell: (o) => o.metadata.name },
      ],
    },
    {
      group: 'apps', version: 'v1', resource: 'deployments', kind: 'Deployment', cls: 'V1Deployment', namespaced: true, shortNames: ['deploy'], categories: ['all'], status: true,
      scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.spec.selector' }, generation: true,
      columns: [
        { col: { name: 'Ready', type: 'string', description: 'Number of the pod with ready state' }, cell: (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}` },
        { col: { name: 'Up-to-date', type: 'integer' }, cell: (o) => o.status?.updatedReplicas ?? 0 },
        { col: { name: 'Available', type: 'integer' }, cell: (o) => o.status?.availableReplicas ?? 0 },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
        { col: { name: 'Containers', type: 'string', priority: 1 }, cell: (o) => (o.spec?.template?.spec?.containers ?? []).map((c: Json) => c.name).join(',') },
        { col: { name: 'Images', type: 'string', priority: 1 }, cell: (o) => (o.spec?.template?.spec?.containers ?? []).map((c: Json) => c.image).join(',') },
        { col: { name: 'Selector', type: 'string', priority: 1 }, cell: (o) => labelSelectorString(o.spec?.selector) },
      ],
      defaults: defaultDeployment,
      validate: validateDeployment,
    },
    {
      group: 'apps', version: 'v1', resource: 'replicasets', kind: 'ReplicaSet', cls: 'V1ReplicaSet', namespaced: true, shortNames: ['rs'], categories: ['all'], status: true,
      scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.spec.selector' }, generation: true,
    },
    {
      group: 'events.k8s.io', version: 'v1', resource: 'events', kind: 'Event', cls: 'EventsV1Event', namespaced: true, shortNames: ['ev'], storage: 'events', storageVersion: 'v1',
      fieldSelectors: eventFields, fromStorage: coreToEventsV1, toStorage: eventsV1ToCore,
    },
    {
      group: 'coordination.k8s.io', version: 'v1', resource: 'leases', kind: 'Lease', cls: 'V1Lease', namespaced: true,
      columns: [
        { col: { name: 'Holder', type: 'string' }, cell: (o) => o.spec?.holderIdentity ?? '' },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
      ],
    },
    {
      group: 'networking.k8s.io', version: 'v1', resource: 'ingresses', kind: 'Ingress', cls: 'V1Ingress', namespaced: true, shortNames: ['ing'], status: true, generation: true, validate: validateIngress,
      columns: [
        { col: { name: 'Class', type: 'string' }, cell: (o) => str(o.spec?.ingressClassName) },
        { col: { name: 'Hosts', type: 'string' }, cell: (o) => (o.spec?.rules ?? []).map((r: Json) => r.host ?? '*').join(',') || '*' },
        { col: { name: 'Address', type: 'string' }, cell: () => '' },
        { col: { name: 'Ports', type: 'string' }, cell: (o) => (o.spec?.tls?.length ? '80, 443' : '80') },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
      ],
    },
    { group: 'networking.k8s.io', version: 'v1', resource: 'ingressclasses', kind: 'IngressClass', cls: 'V1IngressClass', namespaced: false },
    { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'roles', kind: 'Role', cls: 'V1Role', namespaced: true },
    { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'rolebindings', kind: 'RoleBinding', cls: 'V1RoleBinding', namespaced: true },
    { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterroles', kind: 'ClusterRole', cls: 'V1ClusterRole', namespaced: false },
    { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterrolebindings', kind: 'ClusterRoleBinding', cls: 'V1ClusterRoleBinding', namespaced: false },
    {
      group: 'policy', version: 'v1', resource: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', cls: 'V1PodDisruptionBudget', namespaced: true, shortNames: ['pdb'], status: true, generation: true,
      columns: [
        { col: { name: 'Min Available', type: 'string' }, cell: (o) => str(o.spec?.minAvailable ?? 'N/A') },
        { col: { name: 'Max Unavailable', type: 'string' }, cell: (o) => str(o.spec?.maxUnavailable ?? 'N/A') },
        { col: { name: 'Allowed Disruptions', type: 'integer' }, cell: (o) => o.status?.disruptionsAllowed ?? 0 },
        { col: AGE_COL, cell: (o) => age(o.metadata.creationTimestamp) },
      ],
    },
    {
      group: 'autoscaling', version: 'v2', resource: 'horizontalpodautoscalers', kind: 'HorizontalPodAutoscaler', cls: 'V2HorizontalPodAutoscaler', namespaced: true, shortNames: ['hpa'], categories: ['all'], status: true, generation: true,
    },
    {
      group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions', kind: 'CustomResourceDefinition', cls: 'V1CustomResourceDefinition', namespaced: false, shortNames: ['crd', 'crds'], categories: ['api-extensions'], status: true, generation: true,
      columns: [{ col: { name: 'Created At', type: 'date' }, cell: (o) => o.metadata.creationTimestamp }],
      defaults: defaultCrd,
    },
  ];
}

/** The classes whose schemas every OpenAPI document carries (for Scale, Status, DeleteOptions...). */
const EXTRA_ROOTS = [
  { cls: 'V1Scale', group: 'autoscaling' },
  { cls: 'V1Status', group: '' },
  { cls: 'V1DeleteOptions', group: '' },
];

export function builtinDefs(allocateIP: () => string): { defs: ResourceDef[]; schemas: BuiltinSchemas } {
  const specs = builtinSpecs(allocateIP);
  const schemas = buildBuiltinSchemas([...specs.map((s) => ({ cls: s.cls, group: s.group })), ...EXTRA_ROOTS]);
  const resolve = (s: Json): Json => {
    let cur = s;
    for (let i = 0; i < 10 && cur?.$ref; i++) cur = schemas.schemas[String(cur.$ref).replace('#/components/schemas/', '')];
    return cur ?? {};
  };
  const defs = specs.map((s): ResourceDef => {
    const extraCols = s.columns ?? [{ col: AGE_COL, cell: (o: Json) => age(o.metadata.creationTimestamp) }];
    return {
      group: s.group,
      version: s.version,
      resource: s.resource,
      kind: s.kind,
      listKind: `${s.kind}List`,
      singular: s.kind.toLowerCase(),
      namespaced: s.namespaced,
      shortNames: s.shortNames ?? [],
      categories: s.categories ?? [],
      verbs: ALL_VERBS,
      storage: s.storage ?? `${s.group}/${s.resource}`,
      storageVersion: s.storageVersion ?? (s.group ? `${s.group}/${s.version}` : s.version),
      status: !!s.status,
      scale: s.scale,
      generation: !!s.generation,
      strategicMerge: true,
      // registries with ReturnDeletedObject (and namespaces, which always answer with the object)
      deleteReturnsObject: ['pods', 'namespaces', 'persistentvolumeclaims', 'serviceaccounts'].includes(s.resource),
      schemaName: schemas.nameOf[s.cls]!,
      schema: { root: schemas.schemas[schemas.nameOf[s.cls]!], resolve },
      fieldSelectors: { ...metaFieldSelectors(), ...(s.fieldSelectors ?? {}) },
      columns: [...(s.nameColumn === false ? [] : [NAME_COL]), ...extraCols.map((c) => c.col)],
      cells: (o) => [...(s.nameColumn === false ? [] : [o.metadata.name]), ...extraCols.map((c) => c.cell(o))],
      fromStorage: s.fromStorage,
      toStorage: s.toStorage,
      defaults: s.defaults,
      validate: s.validate,
    };
  });
  return { defs, schemas };
}

export { getPath };
