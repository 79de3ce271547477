import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import OpenAI from 'openai';
import { startAppServer } from '../support/app-server.js';

type AppServer = Awaited<ReturnType<typeof startAppServer>>;

const KEY = 'sk-hg-test-key-0123456789';

describe('HTTP API contract (in-process, scripted engine)', () => {
  let srv: AppServer;
  beforeAll(async () => {
    srv = await startAppServer({ keys: [KEY] });
  });
  afterAll(async () => srv.close());

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${srv.url}${path}`, { headers });
  const auth = { Authorization: `Bearer ${KEY}` };

  it('reports loading until the engine is loaded, then ready', async () => {
    const loading = await get('/readyz');
    expect(loading.status).toBe(503);
    expect((await (await get('/health')).json()) as object).toMatchObject({ status: 'loading', model: srv.modelId, queue_size: 0 });
    await srv.load();
    expect((await get('/readyz')).status).toBe(200);
    expect((await get('/livez')).status).toBe(200);
    expect(await (await get('/health')).json()).toEqual({
      status: 'healthy', model: srv.modelId, queue_size: 0, device: 'cpu', device_reason: 'scripted test engine', family: 'sd',
    });
  });

  it('lists exactly one model in the documented shape', async () => {
    const res = await get('/v1/models', auth);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; data: Array<Record<string, unknown>> };
    expect(Object.keys(body).sort()).toEqual(['data', 'object']);
    expect(body.object).toBe('list');
    expect(body.data).toHaveLength(1);
    expect(body.data[0]).toEqual({ id: srv.modelId, object: 'model', created: srv.state.loadedAt, owned_by: 'hypergen' });
    expect(Number.isInteger(body.data[0]!.created)).toBe(true);
  });

  it('retrieves the model by an id containing a slash, 404s others', async () => {
    expect(await (await get(`/v1/models/${srv.modelId}`, auth)).json()).toMatchObject({ id: srv.modelId });
    const missing = await get('/v1/models/other/model', auth);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'model_not_found', type: 'invalid_request_error' } });
  });

  it.each([
    ['no header', {}],
    ['wrong key', { Authorization: 'Bearer sk-wrong' }],
    ['other scheme', { Authorization: `Basic ${KEY}` }],
    ['empty bearer', { Authorization: 'Bearer ' }],
    ['bearer without space', { Authorization: `Bearer${KEY}` }],
    ['lowercase key prefix', { Authorization: `Bearer ${KEY.toUpperCase()}` }],
    ['key with trailing junk', { Authorization: `Bearer ${KEY} x` }],
  ])('refuses %s with 401 {"detail":"Invalid API key"}', async (_name, headers) => {
    const res = await get('/v1/models', headers as Record<string, string>);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ detail: 'Invalid API key' });
  });

  it('keeps health, probes and metrics open without a key', async () => {
    for (const path of ['/health', '/livez', '/readyz', '/metrics']) expect((await get(path)).status).toBe(200);
  });

  it('works with the official OpenAI client, which raises on a wrong key', async () => {
    const client = new OpenAI({ apiKey: KEY, baseURL: `${srv.url}/v1`, maxRetries: 0 });
    const page = await client.models.list();
    expect(page.data.map((m) => m.id)).toEqual([srv.modelId]);
    const wrong = new OpenAI({ apiKey: 'sk-nope', baseURL: `${srv.url}/v1`, maxRetries: 0 });
    await expect(wrong.models.list()).rejects.toMatchObject({ status: 401 });
  });

  it('answers unknown routes with 404 in the OpenAI error shape', async () => {
    for (const path of ['/nope', '/v1/nope']) {
      const res = await get(path, auth);
      expect(res.status).toBe(404);
      const body = (await res.json()) as { error: Record<string, unknown> };
      expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    }
  });

  it('echoes a safe X-Request-Id and mints one otherwise', async () => {
    expect((await get('/health', { 'X-Request-Id': 'abc-123' })).headers.get('x-request-id')).toBe('abc-123');
    const minted = (await get('/health', { 'X-Request-Id': 'bad id\twith tab' })).headers.get('x-request-id');
    expect(minted).toMatch(/^[0-9a-f-]{36}$/);
    expect(srv.logLines.some((line) => line.includes('"abc-123"'))).toBe(true);
  });

  it('exposes Prometheus text with request counters and latency histograms', async () => {
    const text = await (await get('/metrics')).text();
    expect(text).toMatch(/^# HELP hypergen_http_requests_total /m);
    expect(text).toMatch(/hypergen_http_requests_total\{method="GET",route="\/v1\/models",status="200"\} \d+/);
    expect(text).toMatch(/hypergen_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/v1\/models"\} \d+/);
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    // Exposition format: every non-comment line is `name{labels} value`.
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+|NaN|[+-]Inf$/);
    }
  });

  it('never writes the key to a log line', async () => {
    await get('/v1/models', auth);
    await get('/v1/models', { Authorization: `Bearer ${KEY}-wrong` });
    expect(srv.logLines.length).toBeGreaterThan(0);
    expect(srv.logLines.join('\n')).not.toContain(KEY);
  });
});

describe('POST /v1/images/generations validation and mapping', () => {
  let srv: AppServer;
  beforeAll(async () => {
    // The test client stands in for a reverse proxy on 127.0.0.1 (--trusted-proxies 127.0.0.1).
    srv = await startAppServer({ maxQueueSize: 2, trustedProxies: ['127.0.0.1'] });
    await srv.load();
  });
  afterAll(async () => srv.close());

  const post = (body: unknown, headers: Record<string, string> = { 'Content-Type': 'application/json' }) =>
    fetch(`${srv.url}/v1/images/generations`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('generates b64 images with the engine defaults', async () => {
    const res = await post({ prompt: 'a cat', seed: 5 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { created: number; data: Array<{ b64_json: string; revised_prompt: string }> };
    expect(body.data).toHaveLength(1);
    expect(Buffer.from(body.data[0]!.b64_json, 'base64').subarray(1, 4).toString()).toBe('PNG');
    expect(body.data[0]!.revised_prompt).toBe('a cat');
    expect(srv.engine.requests.at(-1)).toMatchObject({ width: 64, height: 64, steps: 4, guidanceScale: 7.5, scheduler: 'euler', seed: 5, n: 1 });
  });

  it('maps every field onto the engine request', async () => {
    await post({
      prompt: 'p', negative_prompt: 'blurry', n: 2, size: '128x96', num_inference_steps: 7, guidance_scale: 3,
      seed: 9, scheduler: 'ddim', output_format: 'webp', output_compression: 80, model: srv.modelId, user: 'u1',
    });
    expect(srv.engine.requests.at(-1)).toEqual({
      prompt: 'p', negativePrompt: 'blurry', n: 2, width: 128, height: 96, steps: 7, guidanceScale: 3, seed: 9,
      scheduler: 'ddim', outputFormat: 'webp', outputCompression: 80,
    });
  });

  it('scales default steps by quality', async () => {
    await post({ prompt: 'p', quality: 'low' });
    expect(srv.engine.requests.at(-1)!.steps).toBe(2);
    await post({ prompt: 'p', quality: 'hd' });
    expect(srv.engine.requests.at(-1)!.steps).toBe(6);
  });

  it('serves url images with the scheme and host a trusted proxy forwarded', async () => {
    const res = await post({ prompt: 'p', response_format: 'url', output_format: 'jpeg' }, {
      'Content-Type': 'application/json', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'images.example.com',
    });
    const { data } = (await res.json()) as { data: Array<{ url: string }> };
    const url = new URL(data[0]!.url);
    expect(url.origin).toBe('https://images.example.com');
    const image = await fetch(`${srv.url}${url.pathname}`);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/jpeg');
    expect((await fetch(`${srv.url}/v1/images/files/0000.png`)).status).toBe(404);
  });

  it.each([
    [{}, 'prompt'],
    [{ prompt: '' }, 'prompt'],
    [{ prompt: 5 }, 'prompt'],
    [{ prompt: 'p', n: 0 }, 'n'],
    [{ prompt: 'p', n: 11 }, 'n'],
    [{ prompt: 'p', n: 1.5 }, 'n'],
    [{ prompt: 'p', n: '2' }, 'n'],
    [{ prompt: 'p', size: '100x100' }, 'size'],
    [{ prompt: 'p', size: '1024x1024' }, 'size'],
    [{ prompt: 'p', size: 'big' }, 'size'],
    [{ prompt: 'p', size: '-64x64' }, 'size'],
    [{ prompt: 'p', response_format: 'png' }, 'response_format'],
    [{ prompt: 'p', output_format: 'gif' }, 'output_format'],
    [{ prompt: 'p', output_compression: 101 }, 'output_compression'],
    [{ prompt: 'p', quality: 'ultra' }, 'quality'],
    [{ prompt: 'p', style: 'cubist' }, 'style'],
    [{ prompt: 'p', num_inference_steps: 0 }, 'num_inference_steps'],
    [{ prompt: 'p', num_inference_steps: 151 }, 'num_inference_steps'],
    [{ prompt: 'p', num_inference_steps: 60 }, 'num_inference_steps'],
    [{ prompt: 'p', guidance_scale: -1 }, 'guidance_scale'],
    [{ prompt: 'p', guidance_scale: 'high' }, 'guidance_scale'],
    [{ prompt: 'p', seed: -1 }, 'seed'],
    [{ prompt: 'p', seed: 2 ** 32 }, 'seed'],
    [{ prompt: 'p', scheduler: 'heun' }, 'scheduler'],
    [{ prompt: 'p', negative_prompt: 3 }, 'negative_prompt'],
    [{ prompt: 'p', temperature: 1 }, 'temperature'],
  ])('400 for %j names %s', async (body, param) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: { param: string; type: string; message: string } };
    expect(json.error.param).toBe(param);
    expect(json.error.type).toBe('invalid_request_error');
    expect(json.error.message).toContain(param);
  });

  it('400 for a prompt over 32000 characters names prompt', async () => {
    const res = await post({ prompt: 'x'.repeat(32_001) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: 'prompt', type: 'invalid_request_error' } });
  });

  it('answers another model with 404 model_not_found', async () => {
    const res = await post({ prompt: 'p', model: 'dall-e-3' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'model_not_found', param: 'model' } });
  });

  it.each([
    ['invalid JSON', 400, '{"prompt":'],
    ['a JSON array', 400, '[1,2]'],
    ['a JSON string', 400, '"prompt"'],
    ['an oversize body', 413, JSON.stringify({ prompt: 'x'.repeat(2 * 1024 * 1024) })],
  ])('refuses %s with %d in the OpenAI shape', async (_name, status, body) => {
    const res = await post(body);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: { message: string } }).error.message).toEqual(expect.any(String));
  });

  it('says 429 with Retry-After when the queue is full', async () => {
    srv.engine.delayMs = 300;
    try {
      const responses = await Promise.all(Array.from({ length: 6 }, () => post({ prompt: 'p' })));
      const statuses = responses.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 200)).toHaveLength(3); // one running + two queued
      for (const res of responses.filter((r) => r.status === 429)) {
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(await res.json()).toMatchObject({ error: { type: 'rate_limit_error', code: 'queue_full' } });
      }
    } finally {
      srv.engine.delayMs = 0;
    }
  });

  it('answers an engine failure with the opaque 500 and logs the detail', async () => {
    srv.engine.failWith = new Error('boom: onnx exploded');
    try {
      const res = await post({ prompt: 'p' });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: { message: 'Internal server error', type: 'internal_error' } });
      expect(srv.logLines.join('\n')).toContain('boom: onnx exploded');
    } finally {
      srv.engine.failWith = undefined;
    }
  });
});

describe('engine-raised request errors', () => {
  it('become a 400 naming the API parameter', async () => {
    const { GenerationRequestError } = await import('../../src/engine/types.js');
    const srv = await startAppServer();
    try {
      await srv.load();
      srv.engine.failWith = new GenerationRequestError('lcm supports at most 50 steps', 'steps');
      const res = await fetch(`${srv.url}/v1/images/generations`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ prompt: 'p', scheduler: 'lcm' }),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { param: 'num_inference_steps', message: 'lcm supports at most 50 steps' } });
    } finally {
      await srv.close();
    }
  });
});
