// One OpenAI base URL for every served HyperGenModel: GET /v1/models lists them, POST /v1/images/generations goes to
// the model's ready pod with the shortest queue (held while none is ready, scaling from zero when autoscaled), the
// pod's response streamed back untouched. Errors are OpenAI-shaped (errors.ts); keys are never logged.
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { HyperGenModel } from '../api/types.js';
import type { EventRecord } from '../status/status.js';
import { scaleUpFromZero, type ScaleClient } from '../autoscaler/scale.js';
import type { Endpoint, QueueProbe } from '../serving/endpoints.js';
import type { ModelDirectory, ServedModel } from './directory.js';
import { BodyTooLarge, ImageNotFound, InvalidApiKey, InvalidRequest, ModelNotFound, RouteNotFound, sendError, Unavailable } from './errors.js';
import { Holds } from './hold.js';
import { keyMatches, type SecretKeys } from './keys.js';
import type { GatewayMetrics } from './metrics.js';
import { pickEndpoint, type Load } from './pick.js';

export interface GatewayOptions {
  /** Most requests held per model while it has no ready pod (then 429). */
  maxHeldPerModel: number;
  /** How long a request may be held (then 504). */
  holdTimeoutMs: number;
  /** How often each ready pod's queue is read. */
  probeIntervalMs: number;
  /** Retry-After before any cold start of the model was measured. */
  defaultRetryAfterS: number;
  /** Largest request body accepted (the server's own limit is 1 MiB). */
  bodyLimitBytes: number;
}

export const DEFAULT_GATEWAY_OPTIONS: GatewayOptions = {
  maxHeldPerModel: 32,
  holdTimeoutMs: 300_000,
  probeIntervalMs: 1000,
  defaultRetryAfterS: 10,
  bodyLimitBytes: 1024 * 1024,
};

export interface GatewayDeps {
  directory: ModelDirectory;
  secretKeys: SecretKeys;
  /** Keys that may use every model. */
  gatewayKeys: { keys(): Promise<string[]> };
  probe: QueueProbe;
  scales: ScaleClient;
  /** Records Events on a HyperGenModel (kubectl describe hgm shows why it woke up). */
  events?: { record(cr: HyperGenModel, event: EventRecord, now: Date): Promise<void> };
  metrics: GatewayMetrics;
  log: Logger;
  options?: Partial<GatewayOptions>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host', 'authorization', 'content-length']);
const REQUEST_ID = /^[\w.:-]{1,128}$/;
const FILES = '/v1/images/files/';

class Aborted extends Error {}

export class Gateway {
  readonly options: GatewayOptions;
  private readonly holds: Holds;
  private readonly inflight = new Map<string, number>();
  private readonly reported = new Map<string, { queue: number; ownInflight: number }>();
  /** Models being scaled up from zero: since when (for cold-start seconds and Retry-After). */
  private readonly coldStarts = new Map<string, number>();
  private readonly lastColdStartS = new Map<string, number>();
  private readonly agent = new http.Agent({ keepAlive: true });
  private turn = 0;
  private probeTimer?: NodeJS.Timeout;
  private readonly unsubscribe: () => void;

  constructor(private readonly deps: GatewayDeps) {
    this.options = { ...DEFAULT_GATEWAY_OPTIONS, ...deps.options };
    const { metrics } = deps;
    this.holds = new Holds({
      cap: this.options.maxHeldPerModel,
      timeoutMs: this.options.holdTimeoutMs,
      retryAfterS: (model) => this.retryAfterS(model),
      onOutcome: (model, outcome) => metrics.holdOutcomes.inc({ model, outcome }),
      onCount: (model, held) => metrics.held.set({ model }, held),
    });
    this.unsubscribe = deps.directory.subscribe(() => this.onDirectoryChange());
  }

  /** Expected seconds until a held request would go on: the last cold start of the model, less what has passed. */
  private retryAfterS(model: string): number {
    const expected = this.lastColdStartS.get(model) ?? this.options.defaultRetryAfterS;
    const since = this.coldStarts.get(model);
    const elapsed = since === undefined ? 0 : (performance.now() - since) / 1000;
    return Math.max(1, Math.ceil(expected - elapsed));
  }

  private onDirectoryChange(): void {
    for (const id of new Set([...this.holds.models(), ...this.coldStarts.keys()])) {
      const model = this.deps.directory.models().find((m) => m.id === id);
      if (!model || this.deps.directory.endpoints(model).length === 0) continue;
      const since = this.coldStarts.get(id);
      if (since !== undefined) {
        const seconds = (performance.now() - since) / 1000;
        this.coldStarts.delete(id);
        this.lastColdStartS.set(id, seconds);
        this.deps.metrics.coldStart.observe({ model: id }, seconds);
        this.deps.log.info({ model: id, seconds: Number(seconds.toFixed(3)) }, 'model up from zero');
      }
      this.holds.release(id);
    }
  }

  /** Starts the periodic queue probe of every ready pod. */
  start(): void {
    const tick = async () => {
      const endpoints = this.deps.directory.models().flatMap((m) => this.deps.directory.endpoints(m));
      await Promise.all(
        endpoints.map(async (e) => {
          const queue = await this.deps.probe.queueSize(e);
          if (queue === undefined) this.reported.delete(e.key);
          else this.reported.set(e.key, { queue, ownInflight: this.inflight.get(e.key) ?? 0 });
        }),
      );
      const live = new Set(endpoints.map((e) => e.key));
      for (const key of this.reported.keys()) if (!live.has(key)) this.reported.delete(key);
      this.probeTimer = setTimeout(() => void tick(), this.options.probeIntervalMs);
    };
    this.probeTimer = setTimeout(() => void tick(), 0);
  }

  stop(): void {
    clearTimeout(this.probeTimer);
    this.unsubscribe();
    this.holds.failAll(new Unavailable('The gateway is shutting down.', 1));
    this.agent.destroy();
  }

  /** The node:http request listener. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    const log = this.deps.log.child({ requestId });
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route =
      path === '/v1/models' ? 'models' : path.startsWith('/v1/models/') ? 'model' : path === '/v1/images/generations' ? 'generations' : path.startsWith(FILES) ? 'files' : 'other';
    res.on('close', () => {
      this.deps.metrics.requests.inc({ route, code: String(res.statusCode) });
      this.deps.metrics.duration.observe({ route }, (performance.now() - started) / 1000);
      log.info({ method: req.method, route, status: res.statusCode, ms: Math.round(performance.now() - started), aborted: !res.writableFinished }, 'request');
    });
    const clientGone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) clientGone.abort(new Aborted('client disconnected'));
    });
    this.route(req, res, path, clientGone.signal, requestId, log).catch((err: unknown) => {
      if (err instanceof Aborted || clientGone.signal.aborted) {
        res.destroy();
        return;
      }
      sendError(res, err, log);
    });
  };

  private async route(req: IncomingMessage, res: ServerResponse, path: string, signal: AbortSignal, requestId: string, log: Logger): Promise<void> {
    if (req.method === 'GET' && path === '/v1/models') {
      const models = await this.visibleModels(req);
      return json(res, 200, { object: 'list', data: models.map(modelObject) });
    }
    if (req.method === 'GET' && path.startsWith('/v1/models/')) {
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      const model = (await this.visibleModels(req)).find((m) => m.id === id);
      if (!model) throw new ModelNotFound(id);
      return json(res, 200, modelObject(model));
    }
    if (req.method === 'POST' && path === '/v1/images/generations') return this.generate(req, res, signal, requestId, log);
    if (req.method === 'GET' && path.startsWith(FILES)) return this.imageFile(res, path.slice(FILES.length), signal, requestId);
    throw new RouteNotFound(req.method ?? 'GET', path);
  }

  private async keysOf(model: ServedModel): Promise<string[]> {
    return this.deps.secretKeys.keys(model.namespace, model.apiKey.name, model.apiKey.key);
  }

  /** The models the request's key may use: all for a gateway key, else those whose own key it is; none: 401. */
  private async visibleModels(req: IncomingMessage): Promise<ServedModel[]> {
    const key = bearer(req);
    if (key === undefined) throw new InvalidApiKey();
    const models = this.deps.directory.models();
    if (keyMatches(key, await this.deps.gatewayKeys.keys())) return models;
    const keys = await Promise.all(models.map((m) => this.keysOf(m)));
    const visible = models.filter((_, i) => keyMatches(key, keys[i]!));
    if (visible.length === 0) throw new InvalidApiKey();
    return visible;
  }

  private async generate(req: IncomingMessage, res: ServerResponse, signal: AbortSignal, requestId: string, log: Logger): Promise<void> {
    const body = await readBody(req, this.options.bodyLimitBytes);
    let requested: unknown;
    try {
      requested = (JSON.parse(body.toString('utf8')) as { model?: unknown } | null)?.model;
    } catch {
      throw new InvalidRequest('We could not parse the JSON body of your request.', null, 'invalid_json');
    }
    if (requested !== undefined && typeof requested !== 'string') throw new InvalidRequest("Invalid type for 'model': expected a string.", 'model', 'invalid_type');
    const visible = await this.visibleModels(req);
    let model: ServedModel | undefined;
    if (requested === undefined) {
      if (this.deps.directory.models().length !== 1) throw new InvalidRequest("You must provide a model parameter: this endpoint serves several models (see GET /v1/models).", 'model', 'missing_required_parameter');
      model = visible[0];
    } else model = visible.find((m) => m.id === requested);
    if (!model) throw new ModelNotFound(String(requested));
    const upstreamKey = (await this.keysOf(model))[0];
    if (upstreamKey === undefined) throw new Unavailable(`The model '${model.id}' has no API key Secret yet.`, this.options.defaultRetryAfterS);

    let endpoints = this.deps.directory.endpoints(model);
    if (endpoints.length === 0) {
      if (model.replicas === 0 && !model.autoscaling) throw new Unavailable(`The model '${model.id}' is scaled to zero replicas.`);
      this.deps.metrics.routing.inc({ model: model.id, decision: 'held' });
      const held = this.holds.hold(model.id, signal);
      if (model.replicas === 0 && model.autoscaling) this.wake(model, log);
      log.debug({ model: model.id, held: this.holds.held(model.id) }, 'holding request until a pod is ready');
      await held;
      endpoints = this.deps.directory.endpoints(model);
    } else this.deps.metrics.routing.inc({ model: model.id, decision: 'routed' });

    const tried = new Set<string>();
    for (;;) {
      const candidates = endpoints.filter((e) => !tried.has(e.key));
      const endpoint = pickEndpoint(candidates, (e) => this.loadOf(e), this.turn++);
      if (!endpoint) throw new Unavailable(`No pod of the model '${model.id}' could be reached; retry later.`, 1);
      tried.add(endpoint.key);
      const outcome = await this.forward(endpoint, req, res, body, upstreamKey, signal, requestId);
      if (outcome === 'done') return;
      // The pod refused the connection before answering (it just went away): another one may take it.
      this.deps.metrics.routing.inc({ model: model.id, decision: 'retried' });
      log.warn({ model: model.id, pod: endpoint.pod }, 'pod unreachable; trying another');
      endpoints = this.deps.directory.endpoints(model);
    }
  }

  /** Scales the model from zero, once per cold start (the operator's autoscaler takes it from there). */
  private wake(model: ServedModel, log: Logger): void {
    // One write per cold start; one that never came up (its holds all timed out) may be woken again.
    const since = this.coldStarts.get(model.id);
    if (since !== undefined && performance.now() - since < this.options.holdTimeoutMs) return;
    this.coldStarts.set(model.id, performance.now());
    const replicas = Math.max(1, model.autoscaling?.minReplicas ?? 1);
    scaleUpFromZero(this.deps.scales, { namespace: model.namespace, name: model.name }, replicas).then(
      (changed) => {
        log.info({ model: model.id, namespace: model.namespace, name: model.name, replicas, changed }, 'scaling up from zero for a held request');
        if (!changed) return;
        this.deps.metrics.scaleFromZero.inc({ model: model.id });
        const cr = { metadata: { namespace: model.namespace, name: model.name, ...(model.uid ? { uid: model.uid } : {}) }, spec: { model: model.id } };
        void this.deps.events?.record(cr, { type: 'Normal', reason: 'ScaledFromZero', message: `a request arrived at 0 replicas: the gateway scaled to ${replicas} and holds requests until a pod is ready` }, new Date());
      },
      (err: unknown) => {
        this.coldStarts.delete(model.id);
        log.error({ model: model.id, err: err instanceof Error ? err.message : String(err) }, 'could not scale up from zero');
      },
    );
  }

  /**
   * A url image (a capability URL: no key). A signed name carries its owner pod's address: it is fetched from that
   * pod when it is one the gateway routes to, never from an address of the client's choosing. An unsigned name (a
   * model without a peer key) is asked of the ready pods in turn. The pod checks the name itself.
   */
  private async imageFile(res: ServerResponse, name: string, signal: AbortSignal, requestId: string): Promise<void> {
    const notFound = new ImageNotFound();
    if (!/^[A-Za-z0-9._-]{1,600}$/.test(name)) throw notFound;
    const ready = this.deps.directory.models().flatMap((m) => this.deps.directory.endpoints(m));
    const parts = name.split('.');
    const owner = parts.length === 4 ? Buffer.from(parts[1]!, 'base64url').toString() : undefined;
    const candidates = owner !== undefined ? ready.filter((e) => `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}` === owner) : ready.slice(0, 16);
    for (const e of candidates) {
      const up = await new Promise<http.IncomingMessage | undefined>((resolve) => {
        const r = http.get({ host: e.host, port: e.port, path: `${FILES}${name}`, headers: { 'x-request-id': requestId }, agent: this.agent }, resolve);
        r.on('socket', (socket) => socket.setNoDelay(true));
        r.on('error', () => resolve(undefined));
        signal.addEventListener('abort', () => r.destroy(), { once: true });
      });
      if (!up) continue;
      if (up.statusCode !== 200) {
        up.resume();
        continue;
      }
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
      if (up.headers['content-length']) out['content-length'] = up.headers['content-length'];
      res.writeHead(200, out);
      up.pipe(res);
      await new Promise<void>((resolve, reject) => {
        up.on('end', resolve);
        up.on('error', reject);
        up.on('close', () => {
          if (!up.complete) res.destroy();
          resolve();
        });
      });
      return;
    }
    throw notFound;
  }

  private loadOf(e: Endpoint): Load {
    const reported = this.reported.get(e.key);
    return { inflight: this.inflight.get(e.key) ?? 0, ...(reported ? { reported } : {}) };
  }

  /** Relays the request to one pod and streams its answer; 'retry' when the pod could not be reached at all. */
  private forward(e: Endpoint, req: IncomingMessage, res: ServerResponse, body: Buffer, key: string, signal: AbortSignal, requestId: string): Promise<'done' | 'retry'> {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    headers.authorization = `Bearer ${key}`;
    // The pod builds response_format=url links from the Host it is asked for: the gateway's, where they are served.
    if (req.headers.host) headers.host = req.headers.host;
    headers['content-length'] = String(body.length);
    headers['x-request-id'] = requestId;
    const forwardedFor = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
    if (forwardedFor) headers['x-forwarded-for'] = forwardedFor;
    this.inflight.set(e.key, (this.inflight.get(e.key) ?? 0) + 1);
    let settled = false;
    const release = () => {
      if (settled) return;
      settled = true;
      const n = (this.inflight.get(e.key) ?? 1) - 1;
      if (n > 0) this.inflight.set(e.key, n);
      else this.inflight.delete(e.key);
    };
    return new Promise((resolve, reject) => {
      const upstream = http.request({ host: e.host, port: e.port, method: 'POST', path: req.url, headers, agent: this.agent }, (up) => {
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
        if (up.headers['content-length']) out['content-length'] = up.headers['content-length'];
        out['x-request-id'] = requestId;
        res.writeHead(up.statusCode ?? 502, out);
        up.pipe(res);
        up.on('end', () => (release(), resolve('done')));
        up.on('error', (err) => (release(), reject(err)));
        // A pod that goes away mid-body: the client's response is cut too (its length would lie otherwise).
        up.on('close', () => {
          release();
          if (!up.complete) res.destroy();
          resolve('done');
        });
      });
      // Headers and body go out as two writes: without TCP_NODELAY the body waits on a delayed ACK (~40 ms).
      upstream.on('socket', (socket) => socket.setNoDelay(true));
      const onAbort = () => upstream.destroy(new Aborted('client disconnected'));
      signal.addEventListener('abort', onAbort, { once: true });
      upstream.on('close', () => {
        signal.removeEventListener('abort', onAbort);
        release();
      });
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        release();
        if (signal.aborted) return reject(new Aborted('client disconnected'));
        if (res.headersSent) return reject(err);
        if (err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET' || err.code === 'EHOSTUNREACH') return resolve('retry');
        reject(new Unavailable(`The pod ${e.pod} failed: ${err.code ?? err.message}`, 1));
      });
      upstream.end(body);
    });
  }

  /** Requests held now, per model id (for tests and /readyz decisions). */
  heldCount(model: string): number {
    return this.holds.held(model);
  }
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  const m = h ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  return m?.[1];
}

const modelObject = (m: ServedModel) => ({ id: m.id, object: 'model', created: m.created, owned_by: 'hypergen' });

function json(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}

/** The request body, refused past `limit` bytes (read once: it is forwarded as these bytes). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      return reject(new BodyTooLarge(limit));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge(limit));
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
