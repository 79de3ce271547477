// KubeHttpServer: the test cluster's HTTP face over ObjectApi: routing, bearer auth, discovery, OpenAPI, CRUD, patch,
// watch (bookmarks, 410s; no watch-lists), tables, with every request recorded and injected faults answered.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ObjectApi, type FieldValidation, type ListOptions, type ObjectList } from './api.js';
import { discoveryDoc } from './discovery.js';
import { ApiError, type FieldError, badRequest, invalid, methodNotAllowed, notFound } from './errors.js';
import { type RequestHooks, type RequestRecord } from './hooks.js';
import { KUBE_VERSION, openapiDoc, openapiRoot } from './openapi.js';
import type { Registry } from './registry.js';
import type { ResourceDef } from './resource.js';
import { type FieldReq, type LabelSelector, parseFieldSelector, parseLabelSelector } from './selectors.js';
import type { StoredEvent } from './store.js';
import { type JsonObject, type JsonValue, type KubeObject, apiVersionOf, asBoolean, asObject, asString, at, deepEqual, objectOr } from './types.js';

export interface ServerOptions {
  token: string;
  bookmarkIntervalMs: number;
  /** answers /api/v1/namespaces/NS/services/NAME[:PORT]/proxy/...; see ServiceProxy */
  proxy?: (ns: string, service: string, rest: string, req: IncomingMessage, res: ServerResponse, body: Buffer) => void;
  /** text of /api/v1/namespaces/NS/pods/NAME/log */
  podLogs?: (pod: KubeObject, container: string | undefined) => string;
}

interface Route {
  def?: ResourceDef;
  group: string;
  version: string;
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** legacy /watch/ prefix */
  watchPrefix: boolean;
}

interface ActiveWatch {
  res: ServerResponse;
  close(abrupt: boolean): void;
}

const MAX_BODY = 16 * 1024 * 1024;

function parseRoute(reg: Registry, path: string): Route | undefined {
  const segs = path.split('/').filter(Boolean).map(decodeURIComponent);
  let group = '';
  let version: string;
  let rest: string[];
  if (segs[0] === 'api' && segs.length >= 3) {
    version = segs[1]!;
    rest = segs.slice(2);
  } else if (segs[0] === 'apis' && segs.length >= 4) {
    group = segs[1]!;
    version = segs[2]!;
    rest = segs.slice(3);
  } else return undefined;
  let watchPrefix = false;
  if (rest[0] === 'watch') {
    watchPrefix = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && !(group === '' && (rest[2] === 'status' || rest[2] === 'finalize') && rest.length === 3)) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource, ...more] = rest;
  if (!resource) return undefined;
  const def = reg.find(group, version, resource);
  const sub = subresource === 'proxy' || subresource === 'log' ? subresource : more.length ? undefined : subresource;
  return { def, group, version, resource, namespace, name, subresource: sub, watchPrefix };
}

function verbOf(method: string, r: Route | undefined, query: URLSearchParams): string {
  if (!r) return method.toLowerCase();
  // As requestinfo: ?watch=true makes a watch only of a collection path; GET .../NAME?watch=true is a get.
  const watch = r.watchPrefix || (!r.name && (query.get('watch') === 'true' || query.get('watch') === '1'));
  switch (method) {
    case 'GET': return watch ? 'watch' : r.name ? 'get' : 'list';
    case 'POST': return 'create';
    case 'PUT': return 'update';
    case 'PATCH': return 'patch';
    case 'DELETE': return r.name ? 'delete' : 'deletecollection';
    default: return method.toLowerCase();
  }
}

function send(res: ServerResponse, code: number, body: JsonValue, headers: Record<string, string | string[]> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

const warningHeader = (warnings: string[]): Record<string, string[]> =>
  warnings.length ? { Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`) } : {};

type Rendering = { kind: 'json' } | { kind: 'table'; include: string } | { kind: 'meta' };

function renderingOf(accept: string | undefined, query: URLSearchParams): Rendering {
  const a = accept ?? '';
  for (const part of a.split(',')) {
    if (/as=Table/.test(part) && /g=meta\.k8s\.io/.test(part)) return { kind: 'table', include: query.get('includeObject') ?? 'Metadata' };
    if (/as=PartialObjectMetadata/.test(part)) return { kind: 'meta' };
    if (/application\/json|\*\/\*/.test(part) && !/as=/.test(part)) return { kind: 'json' };
  }
  return { kind: 'json' };
}

/**
 * Watch-lists are not served: as kube-apiserver with the WatchList feature gate off, ValidateListOptions answers 422
 * for sendInitialEvents and resourceVersionMatch on a watch. (A watch from rv unset or 0 still starts with the
 * current state as ADDED events, the legacy semantics.)
 */
function refuseWatchList(q: URLSearchParams): void {
  const sie = q.get('sendInitialEvents');
  const match = q.get('resourceVersionMatch') ?? '';
  if (sie === null && match === '') return;
  const errs: FieldError[] = [];
  const forbid = (field: string, detail: string) => errs.push({ type: 'FieldValueForbidden', field, detail });
  if (sie !== null) {
    if (match !== 'NotOlderThan') forbid('resourceVersionMatch', 'sendInitialEvents requires setting resourceVersionMatch to NotOlderThan');
    forbid('sendInitialEvents', 'sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled');
  }
  if (match !== '') {
    if (sie === null) forbid('resourceVersionMatch', 'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided');
    if (match !== 'NotOlderThan') errs.push({ type: 'FieldValueNotSupported', field: 'resourceVersionMatch', value: match, detail: 'supported values: "NotOlderThan"' });
    if (q.get('continue')) forbid('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided');
  }
  throw invalid('ListOptions', 'meta.k8s.io', '', errs);
}

/**
 * Whether a store event tears down the storage behind `storage` (a CRD's resources), which ends their watches: the CRD
 * is deleted, or its spec or accepted names change (apiextensions crdHandler rebuilds the storage then).
 */
function tearsDownCrdStorage(ev: StoredEvent, storage: string): boolean {
  if (ev.storage !== 'apiextensions.k8s.io/customresourcedefinitions' || !ev.prev || `${at(ev.prev, 'spec', 'group')}/${at(ev.prev, 'spec', 'names', 'plural')}` !== storage) return false;
  return ev.type === 'DELETED' || !deepEqual(ev.obj.spec, ev.prev.spec) || !deepEqual(at(ev.obj, 'status', 'acceptedNames'), at(ev.prev, 'status', 'acceptedNames'));
}

/** An object's PartialObjectMetadata (the `as=PartialObjectMetadata` rendering). */
const partialMetadata = (o: KubeObject): JsonObject => ({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata });

/** The HTTP face of the test cluster: routing, auth, discovery, OpenAPI, CRUD, watch, tables, hooks. */
export class KubeHttpServer {
  private readonly watches = new Set<ActiveWatch>();
  private readonly openapiCache = new Map<string, { gen: number; doc: JsonObject; hash: string }>();

  constructor(
    private readonly api: ObjectApi,
    private readonly reg: Registry,
    private readonly hooks: RequestHooks,
    private readonly opts: ServerOptions,
  ) {}

  /** Ends every open watch: gracefully (clients see the stream end) or abruptly (socket reset). */
  dropWatches(abrupt = false): number {
    const n = this.watches.size;
    for (const w of [...this.watches]) w.close(abrupt);
    return n;
  }

  openWatchCount(): number {
    return this.watches.size;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      try {
        if (size > MAX_BODY) throw new ApiError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728');
        this.dispatch(req, res, Buffer.concat(chunks));
      } catch (e) {
        this.fail(res, e);
      }
    });
    req.on('error', () => res.destroy());
  };

  private fail(res: ServerResponse, e: unknown): void {
    if (e instanceof ApiError) send(res, e.code, e.toStatus());
    else send(res, 500, new ApiError(500, 'InternalError', `Internal error occurred: ${(e as Error)?.message ?? String(e)}`).toStatus());
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = (req.method ?? 'GET').toUpperCase();
    const route = parseRoute(this.reg, path);
    const record: RequestRecord = {
      method,
      path,
      verb: verbOf(method, route, url.searchParams),
      group: route?.group,
      version: route?.version,
      resource: route?.resource,
      subresource: route?.subresource,
      namespace: route?.namespace,
      name: route?.name,
      userAgent: String(req.headers['user-agent'] ?? ''),
      query: Object.fromEntries(url.searchParams),
      time: new Date(),
    };
    this.hooks.record(record);
    res.on('finish', () => (record.status = res.statusCode));

    if (!['/healthz', '/livez', '/readyz', '/version'].includes(path) && req.headers.authorization !== `Bearer ${this.opts.token}`) {
      send(res, 401, new ApiError(401, 'Unauthorized', 'Unauthorized').toStatus());
      return;
    }
    const fault = this.hooks.takeFault(record);
    if (fault) {
      const reason = { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 410: 'Expired', 422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout' }[fault.status] ?? 'Unknown';
      send(res, fault.status, new ApiError(fault.status, reason, fault.message ?? `injected fault (${fault.status})`).toStatus(), fault.status === 429 ? { 'Retry-After': '1' } : {});
      return;
    }

    if (path === '/version') return send(res, 200, KUBE_VERSION);
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    if (path.startsWith('/openapi/')) return this.serveOpenapi(req, res, path, url);
    const disc = method === 'GET' ? discoveryDoc(this.reg, path, `${req.socket.localAddress}:${req.socket.localPort}`) : undefined;
    if (disc) return send(res, 200, disc);
    if (!route) return send(res, 404, new ApiError(404, 'NotFound', 'the server could not find the requested resource').toStatus());

    if (route.group === '' && route.resource === 'services' && route.subresource === 'proxy' && route.namespace && route.name) {
      if (!this.opts.proxy) throw new ApiError(503, 'ServiceUnavailable', `no endpoints available for service "${route.name}"`);
      const rest = path.split('/proxy').slice(1).join('/proxy') || '/';
      this.opts.proxy(route.namespace, route.name, rest + url.search, req, res, body);
      return;
    }
    const def = route.def;
    if (!def) return send(res, 404, new ApiError(404, 'NotFound', 'the server could not find the requested resource').toStatus());
    if (def.namespaced === false && route.namespace) throw notFound({ group: def.group, resource: def.resource }, route.name ?? '');
    this.serveResource(req, res, method, record.verb, def, route, url.searchParams, body);
  }

  private openapiFor(key: string): { doc: JsonObject; hash: string } | undefined {
    const gen = this.reg.apiGeneration();
    const cached = this.openapiCache.get(key);
    if (cached && cached.gen === gen) return cached;
    const m = /^(?:api\/([^/]+)|apis\/([^/]+)\/([^/]+))$/.exec(key);
    if (!m) return undefined;
    const doc = m[1] ? openapiDoc(this.reg, '', m[1]) : openapiDoc(this.reg, m[2]!, m[3]!);
    if (!doc) return undefined;
    const entry = { gen, doc, hash: this.reg.hashOf(doc) };
    this.openapiCache.set(key, entry);
    return entry;
  }

  private serveOpenapi(_req: IncomingMessage, res: ServerResponse, path: string, url: URL): void {
    if (path === '/openapi/v3') return send(res, 200, openapiRoot(this.reg, (k) => this.openapiFor(k)));
    if (path === '/openapi/v2') throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const d = this.openapiFor(path.replace(/^\/openapi\/v3\//, ''));
    if (!d) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const immutable = url.searchParams.get('hash') === d.hash;
    send(res, 200, d.doc, immutable ? { 'Cache-Control': 'public, immutable', Expires: new Date(Date.now() + 365 * 864e5).toUTCString(), Etag: `"${d.hash}"` } : { Etag: `"${d.hash}"` });
  }

  private serveResource(req: IncomingMessage, res: ServerResponse, method: string, verb: string, def: ResourceDef, route: Route, q: URLSearchParams, body: Buffer): void {
    const ns = def.namespaced ? route.namespace : undefined;
    const sub = route.subresource;
    if (sub && sub !== 'status' && sub !== 'scale' && sub !== 'log') throw notFound({ group: def.group, resource: `${def.resource}/${sub}` }, route.name ?? '');
    if ((sub === 'status' && !def.status) || (sub === 'scale' && !def.scale)) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const fieldManager = q.get('fieldManager') ?? String(req.headers['user-agent'] ?? 'unknown').split('/')[0]!.slice(0, 128);
    const fv = (q.get('fieldValidation') ?? 'Warn') as FieldValidation;
    if (!['Strict', 'Warn', 'Ignore'].includes(fv)) throw badRequest(`fieldValidation must be one of "Ignore", "Warn", or "Strict", got "${fv}"`);
    const dryRun = q.getAll('dryRun').includes('All');
    if (q.getAll('dryRun').some((d) => d !== 'All')) throw badRequest(`dryRun: Unsupported value: "${q.get('dryRun')}": supported values: "All"`);
    const wopts = { dryRun, fieldManager, fieldValidation: fv, subresource: sub === 'status' || sub === 'scale' ? sub : undefined } as const;
    const rendering = renderingOf(req.headers.accept, q);
    const parseBody = (): JsonValue => {
      if (body.length === 0) throw badRequest('the body of the request was empty');
      // JSON bodies only: YAML and protobuf (typed `kubectl create`/`run`) are answered 415, as for a custom resource.
      const ct = String(req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim();
      if (ct !== 'application/json' && ct !== '') throw new ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml');
      try {
        return JSON.parse(body.toString('utf8'));
      } catch (e) {
        throw badRequest(`Object 'Kind' is missing in '${body.toString('utf8').slice(0, 100)}': ${(e as Error).message}`);
      }
    };

    switch (verb) {
      case 'watch':
        return this.watch(req, res, def, ns, route.name, q, rendering);
      case 'list':
        return send(res, 200, this.renderList(def, this.api.list(def, ns, this.listOptions(def, q)), rendering));
      case 'get': {
        if (sub === 'scale') return send(res, 200, this.api.getScale(def, ns, route.name!));
        if (sub === 'log') {
          const pod = this.api.get(def, ns, route.name!);
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.end(this.opts.podLogs?.(pod, q.get('container') ?? undefined) ?? '');
          return;
        }
        return send(res, 200, this.render(def, this.api.get(def, ns, route.name!), rendering));
      }
      case 'create': {
        if (route.name && !sub) throw methodNotAllowed();
        if (sub) throw methodNotAllowed();
        const r = this.api.create(def, ns, parseBody(), wopts);
        return send(res, 201, r.obj, warningHeader(r.warnings));
      }
      case 'update': {
        const r = this.api.update(def, ns, route.name!, parseBody(), wopts);
        return send(res, 200, r.obj, warningHeader(r.warnings));
      }
      case 'patch': {
        const r = this.api.patch(def, ns, route.name!, String(req.headers['content-type'] ?? ''), body.toString('utf8'), wopts);
        return send(res, r.created ? 201 : 200, r.obj, warningHeader(r.warnings));
      }
      case 'delete': {
        if (sub) throw methodNotAllowed();
        const opts = this.deleteOptions(body, q, dryRun);
        const r = this.api.delete(def, ns, route.name!, opts);
        // kube-apiserver answers 202 only for a pending deletion the client asked with orphanDependents=false.
        if (r.pending || def.deleteReturnsObject) return send(res, r.pending && opts.orphanDependents === false ? 202 : 200, r.obj);
        return send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: r.obj.metadata.name, ...(def.group ? { group: def.group } : {}), kind: def.resource, uid: r.obj.metadata.uid } });
      }
      case 'deletecollection': {
        const opts = this.deleteOptions(body, q, dryRun);
        const items = this.api.list(def, ns, this.listOptions(def, q)).items.map((o) => this.api.delete(def, o.metadata.namespace, o.metadata.name, opts).obj);
        return send(res, 200, { apiVersion: apiVersionOf(def.group, def.version), kind: def.listKind, metadata: { resourceVersion: String(this.api.store.currentRv()) }, items });
      }
      default:
        void method;
        throw methodNotAllowed();
    }
  }

  private deleteOptions(body: Buffer, q: URLSearchParams, dryRun: boolean): Parameters<ObjectApi['delete']>[3] & { orphanDependents?: boolean } {
    let o: JsonObject = {};
    if (body.length) {
      try {
        o = objectOr(JSON.parse(body.toString('utf8')) as JsonValue);
      } catch {
        throw badRequest('invalid DeleteOptions body');
      }
    }
    const policy = q.get('propagationPolicy') ?? o.propagationPolicy ?? (o.orphanDependents === true ? 'Orphan' : undefined);
    // No foreground deletion: Foreground is refused as an unsupported value (nothing of ours deletes in the foreground).
    const isPolicy = (p: unknown): p is 'Background' | 'Orphan' => p === 'Background' || p === 'Orphan';
    if (policy && !isPolicy(policy)) throw badRequest(`propagationPolicy: Unsupported value: "${policy}": supported values: "Background", "Orphan"`);
    const pre = asObject(o.preconditions);
    const text = (v: JsonValue | undefined) => (v === undefined || v === null ? undefined : String(v));
    const dryRunAll = Array.isArray(o.dryRun) ? o.dryRun.includes('All') : typeof o.dryRun === 'string' && o.dryRun.includes('All');
    return {
      propagationPolicy: isPolicy(policy) ? policy : undefined,
      preconditions: pre ? { uid: text(pre.uid), resourceVersion: text(pre.resourceVersion) } : undefined,
      dryRun: dryRun || dryRunAll,
      orphanDependents: asBoolean(o.orphanDependents),
    };
  }

  private listOptions(def: ResourceDef, q: URLSearchParams): ListOptions {
    // `limit` is accepted and ignored: lists come whole, with no continue token. None is issued, so any is invalid.
    if (q.get('continue')) throw badRequest('continue key is not valid: illegal base64 data');
    return {
      labelSelector: parseLabelSelector(q.get('labelSelector')),
      fieldSelector: parseFieldSelector(q.get('fieldSelector'), def.fieldSelectors),
    };
  }

  private tableOf(def: ResourceDef, items: KubeObject[], rv: string | undefined, include: string, list: boolean): JsonObject {
    return {
      kind: 'Table',
      apiVersion: 'meta.k8s.io/v1',
      metadata: { resourceVersion: rv, ...(list ? {} : {}) },
      columnDefinitions: def.columns.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description ?? '', priority: c.priority ?? 0 })),
      rows: items.map((o) => ({
        cells: def.cells(o),
        object: include === 'Object' ? o : include === 'None' ? undefined : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
      })),
    };
  }

  private render(def: ResourceDef, v: KubeObject, r: Rendering): JsonObject {
    if (r.kind === 'table') return this.tableOf(def, [v], v.metadata.resourceVersion, r.include, false);
    if (r.kind === 'meta') return partialMetadata(v);
    return v;
  }

  private renderList(def: ResourceDef, v: ObjectList, r: Rendering): JsonObject {
    if (r.kind === 'table') return { ...this.tableOf(def, v.items, asString(v.metadata.resourceVersion), r.include, true), metadata: v.metadata };
    if (r.kind === 'meta') return { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata: v.metadata, items: v.items.map(partialMetadata) };
    return v;
  }

  private watch(req: IncomingMessage, res: ServerResponse, def: ResourceDef, ns: string | undefined, name: string | undefined, q: URLSearchParams, rendering: Rendering): void {
    const labels: LabelSelector = parseLabelSelector(q.get('labelSelector'));
    const fields: FieldReq[] = parseFieldSelector(q.get('fieldSelector'), def.fieldSelectors);
    if (name) {
      // As ListResource: beside a name in the path, a field selector may only require that same name.
      if (fields.length && !fields.some((f) => f.field === 'metadata.name' && f.op === '=' && f.value === name)) throw badRequest("fieldSelector metadata.name doesn't match requested name");
      fields.push({ field: 'metadata.name', op: '=', value: name });
    }
    const rvParam = q.get('resourceVersion') ?? '';
    if (rvParam !== '' && !/^\d+$/.test(rvParam)) throw badRequest(`invalid resource version: strconv.ParseUint: parsing "${rvParam}": invalid syntax`);
    const bookmarks = q.get('allowWatchBookmarks') === 'true';
    refuseWatchList(q);
    // 0 (or none) leaves the timeout to the server (minRequestTimeout, 1800 s by default).
    const timeoutSeconds = Number(q.get('timeoutSeconds') ?? 0) || 1800;
    const store = this.api.store;
    const inScope = (o: KubeObject) => !def.namespaced || ns === undefined || o.metadata.namespace === ns;
    const passes = (o: KubeObject | undefined) => !!o && inScope(o) && this.api.matches(def, o, labels, fields);
    const apiVersion = apiVersionOf(def.group, def.version);
    let tableHeadersSent = false;
    const out = (o: KubeObject): JsonObject => {
      const v = { ...this.api.view(def, o), apiVersion, kind: def.kind };
      if (rendering.kind === 'table') {
        const table = this.tableOf(def, [v], v.metadata.resourceVersion, rendering.include, false);
        // WatchServer sends table headers with the first object only (NoHeaders afterwards: null column definitions).
        if (tableHeadersSent) table.columnDefinitions = null;
        tableHeadersSent = true;
        return table;
      }
      return rendering.kind === 'meta' ? { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: v.metadata } : v;
    };

    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const write = (type: string, object: JsonValue) => res.write(`${JSON.stringify({ type, object })}\n`);
    let closed = false;
    const timers: NodeJS.Timeout[] = [];
    let unsubscribe = () => {};
    const watch: ActiveWatch = {
      res,
      close: (abrupt) => {
        if (closed) return;
        closed = true;
        unsubscribe();
        timers.forEach(clearTimeout);
        this.watches.delete(watch);
        if (abrupt) res.destroy();
        else res.end();
      },
    };
    this.watches.add(watch);
    // Not req 'close': since Node 16 it fires once the (empty) request body is read, which ended every watch at once.
    res.on('close', () => watch.close(false));

    const emit = (ev: StoredEvent): void => {
      if (def.crd && tearsDownCrdStorage(ev, def.storage)) return watch.close(false);
      // The cache watcher sends only events newer than the version asked for, also when that is ahead of the server.
      if (ev.storage !== def.storage || ev.rv <= rv) return;
      const cur = ev.type === 'DELETED' ? undefined : ev.obj;
      const now = passes(cur);
      const before = ev.type === 'ADDED' ? false : passes(ev.prev);
      // Deletions and objects leaving the selector carry the previous stored state at this event's resourceVersion, as
      // the watch cache sends etcd's prevKV (so a delete by finalizer removal still shows the finalizers).
      // (Only when the object passed before: that event has a previous state.)
      const gone = () => out({ ...ev.prev!, metadata: { ...ev.prev!.metadata, resourceVersion: ev.obj.metadata.resourceVersion } });
      if (ev.type === 'DELETED') {
        if (before) write('DELETED', gone());
      } else if (now && before) write('MODIFIED', out(ev.obj));
      else if (now) write('ADDED', out(ev.obj));
      else if (before) write('DELETED', gone());
    };

    const rv = rvParam === '' ? 0 : Number(rvParam);
    if (rv > 0) {
      if (store.isExpired(rv)) {
        write('ERROR', new ApiError(410, 'Expired', `too old resource version: ${rv} (${store.compactedRevision()})`).toStatus());
        watch.close(false);
        return;
      }
      for (const ev of store.eventsSince(def.storage, rv)) emit(ev);
    } else {
      for (const o of store.list(def.storage, def.namespaced ? ns : undefined)) if (passes(o)) write('ADDED', out(o));
    }
    unsubscribe = store.subscribe(emit);
    if (bookmarks) {
      const bookmark = () => write('BOOKMARK', { kind: def.kind, apiVersion, metadata: { resourceVersion: String(store.currentRv()) } });
      const tick = () => {
        if (closed) return;
        bookmark();
        timers.push(setTimeout(tick, this.opts.bookmarkIntervalMs));
      };
      timers.push(setTimeout(tick, this.opts.bookmarkIntervalMs));
      // The cache watcher also sends one 2 s before the deadline, so that clients resume from a fresh version.
      if (timeoutSeconds > 2) timers.push(setTimeout(bookmark, (timeoutSeconds - 2) * 1000));
    }
    timers.push(setTimeout(() => watch.close(false), timeoutSeconds * 1000));
  }
}
