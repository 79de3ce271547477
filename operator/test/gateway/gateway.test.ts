// The Gateway behind its seams: an in-memory ModelDirectory, SecretKeys, QueueProbe and ScaleClient doubles, and pods
// that are real HTTP servers on 127.0.0.1 (recording what reaches them). Errors in OpenAI's shape, the model's key
// forwarded instead of the client's, streaming, probe-reported load, holds, cap, scale from zero, retry, shutdown.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { Scale, ScaleClient, ScaleRef } from '../../src/autoscaler/scale.js';
import type { ModelDirectory, ServedModel } from '../../src/gateway/directory.js';
import { Gateway, type GatewayOptions } from '../../src/gateway/gateway.js';
import type { SecretKeys } from '../../src/gateway/keys.js';
import { GatewayMetrics } from '../../src/gateway/metrics.js';
import type { Endpoint, QueueProbe } from '../../src/serving/endpoints.js';

class MemoryDirectory implements ModelDirectory {
  readonly synced = true;
  readonly pods = new Map<string, Endpoint[]>();
  private readonly listeners = new Set<() => void>();
  constructor(readonly list: ServedModel[]) {}
  models() {
    return this.list;
  }
  endpoints(m: ServedModel) {
    return this.pods.get(m.name) ?? [];
  }
  setPods(name: string, eps: Endpoint[]) {
    this.pods.set(name, eps);
    for (const l of this.listeners) l();
  }
  subscribe(l: () => void) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

class MemoryScales implements ScaleClient {
  readonly replicas = new Map<string, number>();
  readonly writes: { ref: ScaleRef; replicas: number }[] = [];
  async get(ref: ScaleRef): Promise<Scale> {
    return { replicas: this.replicas.get(ref.name) ?? 0, resourceVersion: '1' };
  }
  async set(ref: ScaleRef, replicas: number): Promise<void> {
    this.writes.push({ ref, replicas });
    this.replicas.set(ref.name, replicas);
  }
}

const model = (name: string, extra: Partial<ServedModel> = {}): ServedModel => ({ id: `org/${name}`, namespace: 'ns', name, created: 1700000000, apiKey: { name: `${name}-api-key`, key: 'api-key' }, ...extra });
const KEYS: Record<string, string[]> = { 'ns/a-api-key/api-key': ['sk-a'], 'ns/b-api-key/api-key': ['sk-b', 'sk-b-old'], 'ns/zero-api-key/api-key': ['sk-z'] };
const secretKeys: SecretKeys = { keys: async (ns, name, key) => KEYS[`${ns}/${name}/${key}`] ?? [] };

interface Pod {
  endpoint: Endpoint;
  seen: { auth?: string; body: string; requestId?: string }[];
  /** Holds responses until released (a busy pod). */
  hold: boolean;
  release(): void;
  close(): Promise<void>;
}

async function startPod(name: string, modelName: string): Promise<Pod> {
  const waiting: (() => void)[] = [];
  const pod: Pod = {
    endpoint: { key: `ns/${name}`, pod: name, model: modelName, host: '127.0.0.1', port: 0 },
    seen: [],
    hold: false,
    release: () => waiting.splice(0).forEach((f) => f()),
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      pod.seen.push({ auth: req.headers.authorization, body: Buffer.concat(chunks).toString(), requestId: req.headers['x-request-id'] as string });
      const answer = () => {
        res.writeHead(200, { 'content-type': 'application/json', 'x-served-by': name });
        // Two chunks: the gateway relays a stream, not one buffer.
        res.write('{"created":1,');
        res.end(`"data":[{"b64_json":"${name}"}]}`);
      };
      if (pod.hold) waiting.push(answer);
      else answer();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  pod.endpoint.port = (server.address() as AddressInfo).port;
  return pod;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function startGateway(directory: MemoryDirectory, options: Partial<GatewayOptions> = {}, probe: QueueProbe = { queueSize: async () => undefined }) {
  const scales = new MemoryScales();
  const metrics = new GatewayMetrics();
  const events: { name: string; reason: string }[] = [];
  const recorder = { record: async (cr: { metadata: { name: string } }, e: { reason: string }) => void events.push({ name: cr.metadata.name, reason: e.reason }) };
  const gateway = new Gateway({ directory, secretKeys, gatewayKeys: { keys: async () => ['sk-gw'] }, probe, scales, events: recorder, metrics, log: pino({ level: 'silent' }), options: { probeIntervalMs: 20, ...options } });
  gateway.start();
  const server = http.createServer(gateway.handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(async () => {
    gateway.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const post = (body: unknown, key = 'sk-gw', headers: Record<string, string> = {}, signal?: AbortSignal) =>
    fetch(`${url}/v1/images/generations`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body), signal });
  return { gateway, scales, metrics, events, url, post };
}

const metric = async (metrics: GatewayMetrics, name: string, labels: Record<string, string>) =>
  (await metrics.registry.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ?? 0;

describe('Gateway', () => {
  it("relays a generation to the model's pod with the model's key (not the client's) and streams the answer back", async () => {
    const pod = await startPod('a-1', 'a');
    cleanups.push(() => pod.close());
    const dir = new MemoryDirectory([model('a'), model('b')]);
    dir.setPods('a', [pod.endpoint]);
    const { post } = await startGateway(dir);
    const res = await post({ model: 'org/a', prompt: 'x' }, 'sk-gw', { 'x-request-id': 'req-1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('req-1');
    expect(res.headers.get('x-served-by')).toBe('a-1');
    expect(await res.json()).toEqual({ created: 1, data: [{ b64_json: 'a-1' }] });
    expect(pod.seen).toEqual([{ auth: 'Bearer sk-a', body: '{"model":"org/a","prompt":"x"}', requestId: 'req-1' }]);
  });

  it("maps its errors to OpenAI's shape: 401, 404 model_not_found, 400 for a missing model or bad JSON, 413, 404 route", async () => {
    const dir = new MemoryDirectory([model('a'), model('b')]);
    const { post, url } = await startGateway(dir, { bodyLimitBytes: 1000 });
    const err = async (res: Response) => ({ status: res.status, body: await res.json() });
    expect(await err(await post({ model: 'org/a', prompt: 'x' }, 'sk-nope'))).toEqual({ status: 401, body: { error: { message: 'Invalid API key', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } });
    expect(await err(await post({ model: 'org/zz', prompt: 'x' }))).toMatchObject({ status: 404, body: { error: { type: 'invalid_request_error', param: 'model', code: 'model_not_found' } } });
    // A model's key does not reveal another model.
    expect(await err(await post({ model: 'org/b', prompt: 'x' }, 'sk-a'))).toMatchObject({ status: 404, body: { error: { code: 'model_not_found' } } });
    expect(await err(await post({ prompt: 'x' }))).toMatchObject({ status: 400, body: { error: { param: 'model', code: 'missing_required_parameter' } } });
    expect(await err(await post('{not json'))).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
    expect(await err(await post({ model: 'org/a', prompt: 'x'.repeat(2000) }))).toMatchObject({ status: 413, body: { error: { code: 'request_too_large' } } });
    expect(await err(await fetch(`${url}/v1/images/edits`, { method: 'POST', headers: { authorization: 'Bearer sk-gw' } }))).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
  });

  it('lists every model for a gateway key and only its own for a model key (any of its keys)', async () => {
    const { url } = await startGateway(new MemoryDirectory([model('a'), model('b')]));
    const list = async (key: string) => ((await (await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).json()) as { data: { id: string }[] }).data.map((m) => m.id);
    expect(await list('sk-gw')).toEqual(['org/a', 'org/b']);
    expect(await list('sk-b-old')).toEqual(['org/b']);
    const one = await (await fetch(`${url}/v1/models/org%2Fa`, { headers: { authorization: 'Bearer sk-a' } })).json();
    expect(one).toEqual({ id: 'org/a', object: 'model', created: 1700000000, owned_by: 'hypergen' });
  });

  it('with one model, `model` may be omitted', async () => {
    const pod = await startPod('a-1', 'a');
    cleanups.push(() => pod.close());
    const dir = new MemoryDirectory([model('a')]);
    dir.setPods('a', [pod.endpoint]);
    expect((await (await startGateway(dir)).post({ prompt: 'x' })).status).toBe(200);
  });

  it('routes away from a pod that reports a longer queue (load from elsewhere)', async () => {
    const [p1, p2] = [await startPod('a-1', 'a'), await startPod('a-2', 'a')];
    cleanups.push(() => p1.close(), () => p2.close());
    const dir = new MemoryDirectory([model('a')]);
    dir.setPods('a', [p1.endpoint, p2.endpoint]);
    let probes = 0;
    const probe: QueueProbe = { queueSize: async (e) => (probes++, e.pod === 'a-1' ? 3 : 0) };
    const { post } = await startGateway(dir, {}, probe);
    // A probe of the second round means the first round's reports are stored.
    while (probes < 3) await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 3; i++) expect((await post({ model: 'org/a', prompt: 'x' })).headers.get('x-served-by')).toBe('a-2');
    expect(p1.seen).toHaveLength(0);
  });

  it('routes away from a pod busy with its own request in flight; idle pods share round robin', async () => {
    const [p1, p2] = [await startPod('a-1', 'a'), await startPod('a-2', 'a')];
    cleanups.push(() => p1.close(), () => p2.close());
    const dir = new MemoryDirectory([model('a')]);
    dir.setPods('a', [p1.endpoint, p2.endpoint]);
    const { post } = await startGateway(dir);
    p1.hold = true;
    p2.hold = true;
    const slow = post({ model: 'org/a', prompt: 'slow' });
    while (p1.seen.length + p2.seen.length < 1) await new Promise((r) => setTimeout(r, 5));
    const [busy, idle] = p1.seen.length ? [p1, p2] : [p2, p1];
    idle.hold = false;
    for (let i = 0; i < 3; i++) expect((await post({ model: 'org/a', prompt: 'x' })).headers.get('x-served-by')).toBe(idle.endpoint.pod);
    expect(busy.seen).toHaveLength(1);
    busy.release();
    expect((await slow).status).toBe(200);
  });

  it('holds requests for a model at zero, scales it to 1 once, releases them when a pod is ready; beyond the cap: 429 + Retry-After', async () => {
    const pod = await startPod('zero-1', 'zero');
    cleanups.push(() => pod.close());
    const dir = new MemoryDirectory([model('zero', { replicas: 0, autoscaling: { minReplicas: 0, maxReplicas: 2 } })]);
    const { post, scales, metrics, gateway, events } = await startGateway(dir, { maxHeldPerModel: 2, defaultRetryAfterS: 7 });
    const held = [post({ model: 'org/zero', prompt: '1' }), post({ model: 'org/zero', prompt: '2' })];
    while (gateway.heldCount('org/zero') < 2) await new Promise((r) => setTimeout(r, 5));
    const refused = await post({ model: 'org/zero', prompt: '3' });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('7');
    expect(await refused.json()).toMatchObject({ error: { type: 'rate_limit_error', code: 'too_many_waiting' } });
    expect(scales.writes).toEqual([{ ref: { namespace: 'ns', name: 'zero' }, replicas: 1 }]);
    expect(events).toEqual([{ name: 'zero', reason: 'ScaledFromZero' }]);
    dir.setPods('zero', [pod.endpoint]);
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
    expect(pod.seen.map((s) => s.auth)).toEqual(['Bearer sk-z', 'Bearer sk-z']);
    expect(await metric(metrics, 'hypergen_gateway_held_requests_total', { model: 'org/zero', outcome: 'released' })).toBe(2);
    expect(await metric(metrics, 'hypergen_gateway_held_requests_total', { model: 'org/zero', outcome: 'rejected' })).toBe(1);
    expect(await metric(metrics, 'hypergen_gateway_scale_from_zero_total', { model: 'org/zero' })).toBe(1);
    expect(await metrics.registry.getSingleMetricAsString('hypergen_gateway_cold_start_seconds')).toContain('hypergen_gateway_cold_start_seconds_count{model="org/zero"} 1');
  });

  it('a model at zero without autoscaling is 503 at once; a held request is dropped when its client goes, and 503 on shutdown', async () => {
    const dir = new MemoryDirectory([model('a', { replicas: 0 }), model('b')]);
    const { post, gateway, metrics, scales } = await startGateway(dir);
    const res = await post({ model: 'org/a', prompt: 'x' });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { type: 'server_error', code: 'model_unavailable' } });
    expect(scales.writes).toEqual([]);
    // b has replicas unset and no ready pod (e.g. rolling out): held.
    const abort = new AbortController();
    const dropped = post({ model: 'org/b', prompt: 'x' }, 'sk-gw', {}, abort.signal).catch((e: Error) => e.name);
    while (gateway.heldCount('org/b') < 1) await new Promise((r) => setTimeout(r, 5));
    abort.abort();
    expect(await dropped).toBe('AbortError');
    while (gateway.heldCount('org/b') > 0) await new Promise((r) => setTimeout(r, 5));
    expect(await metric(metrics, 'hypergen_gateway_held_requests_total', { model: 'org/b', outcome: 'dropped' })).toBe(1);
    const pending = post({ model: 'org/b', prompt: 'x' });
    while (gateway.heldCount('org/b') < 1) await new Promise((r) => setTimeout(r, 5));
    gateway.stop();
    const shut = await pending;
    expect(shut.status).toBe(503);
    expect(shut.headers.get('retry-after')).toBe('1');
  });

  it('a model that never came up is woken again by the next request after its holds timed out', async () => {
    const dir = new MemoryDirectory([model('zero', { replicas: 0, autoscaling: { minReplicas: 0, maxReplicas: 1 } })]);
    const { post, scales } = await startGateway(dir, { holdTimeoutMs: 50 });
    expect((await post({ model: 'org/zero', prompt: 'x' })).status).toBe(504);
    scales.replicas.set('zero', 0); // someone scaled it back down meanwhile
    expect((await post({ model: 'org/zero', prompt: 'x' })).status).toBe(504);
    expect(scales.writes.map((w) => w.replicas)).toEqual([1, 1]);
  });

  it('a held request past the hold timeout gets 504', async () => {
    const { post } = await startGateway(new MemoryDirectory([model('b')]), { holdTimeoutMs: 50 });
    const res = await post({ model: 'org/b', prompt: 'x' });
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ error: { type: 'timeout_error', code: 'model_start_timeout' } });
  });

  it('a pod that refuses the connection is skipped for another ready one', async () => {
    const pod = await startPod('a-2', 'a');
    cleanups.push(() => pod.close());
    const gone = await startPod('a-1', 'a');
    await gone.close();
    const dir = new MemoryDirectory([model('a')]);
    dir.setPods('a', [gone.endpoint, pod.endpoint]);
    const { post, metrics } = await startGateway(dir);
    for (let i = 0; i < 2; i++) expect((await post({ model: 'org/a', prompt: 'x' })).headers.get('x-served-by')).toBe('a-2');
    expect(await metric(metrics, 'hypergen_gateway_routing_decisions_total', { model: 'org/a', decision: 'retried' })).toBeGreaterThanOrEqual(1);
    dir.setPods('a', [gone.endpoint]);
    expect((await post({ model: 'org/a', prompt: 'x' })).status).toBe(503);
  });

  it('a pod that dies mid-response cuts the client off rather than ending a short body as if complete', async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"created":1,');
      setImmediate(() => res.socket?.destroy());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => new Promise((r) => server.close(() => r())));
    const dir = new MemoryDirectory([model('a')]);
    dir.setPods('a', [{ key: 'ns/a-1', pod: 'a-1', model: 'a', host: '127.0.0.1', port: (server.address() as AddressInfo).port }]);
    const { post } = await startGateway(dir);
    const res = await post({ model: 'org/a', prompt: 'x' });
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });
});
