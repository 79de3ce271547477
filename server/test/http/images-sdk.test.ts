// POST /v1/images/generations through the official OpenAI SDK against real server processes on the tiny pipelines.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import OpenAI from 'openai';
import sharp from 'sharp';
import { startServerProcess, type ServerProcess } from '../../../hack/src/server-process.js';

const KEY = 'sk-hg-images-sdk-test';

describe.each([
  ['models/tiny-sd', '64x64'],
  ['models/tiny-sdxl', '64x64'],
])('images through the OpenAI SDK on %s', (model, size) => {
  let server: ServerProcess;
  let client: OpenAI;
  beforeAll(async () => {
    server = await startServerProcess(['serve', model, '--device', 'cpu', '--api-key', KEY]);
    await server.ready();
    client = new OpenAI({ apiKey: KEY, baseURL: `${server.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
  });

  const generate = (extra: Record<string, unknown> = {}) =>
    client.images.generate({ prompt: 'a photo of a cat', size, num_inference_steps: 2, ...extra } as unknown as OpenAI.ImageGenerateParamsNonStreaming);

  it('returns b64_json PNGs of the requested size with revised_prompt and created', async () => {
    const res = await generate({ seed: 7 });
    expect(res.created).toBeGreaterThan(1_700_000_000);
    expect(res.data).toHaveLength(1);
    const png = Buffer.from(res.data![0]!.b64_json!, 'base64');
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 64, 64]);
    expect(res.data![0]!.revised_prompt).toBe('a photo of a cat');
  });

  it('gives byte-identical PNGs for the same seed and different ones for other seeds', async () => {
    const [a, b, c] = await Promise.all([generate({ seed: 42 }), generate({ seed: 42 }), generate({ seed: 43 })]);
    expect(a.data![0]!.b64_json).toBe(b.data![0]!.b64_json);
    expect(a.data![0]!.b64_json).not.toBe(c.data![0]!.b64_json);
  });

  it('keeps every returned seed in 0..2^32-1: seed 4294967295 with n 3 returns 4294967295, 0, 1, and seed 0 can be redone', async () => {
    const res = await generate({ n: 3, seed: 4294967295 });
    const seeds = res.data!.map((d) => (d as unknown as { seed: number }).seed);
    expect(seeds).toEqual([4294967295, 0, 1]);
    const again = await generate({ seed: seeds[1] });
    const [x, y] = await Promise.all([res.data![1]!, again.data![0]!].map((d) => sharp(Buffer.from(d.b64_json!, 'base64')).raw().toBuffer()));
    let max = 0;
    for (let i = 0; i < x!.length; i++) max = Math.max(max, Math.abs(x![i]! - y![i]!));
    expect(max).toBeLessThanOrEqual(1); // a batch of 3 may pick other GEMM kernels than a batch of 1
  });

  it('returns n=3 distinct images', async () => {
    const res = await generate({ n: 3, seed: 1 });
    expect(new Set(res.data!.map((d) => d.b64_json)).size).toBe(3);
  });

  it('serves response_format=url images from the server itself', async () => {
    const res = await generate({ response_format: 'url', output_format: 'webp' });
    const image = await fetch(res.data![0]!.url!);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/webp');
    expect((await sharp(Buffer.from(await image.arrayBuffer())).metadata()).format).toBe('webp');
  });

  it('raises a 400 naming the bad field and a 404 for another model', async () => {
    await expect(generate({ size: '65x64' })).rejects.toMatchObject({ status: 400, param: 'size' });
    await expect(generate({ n: 11 })).rejects.toMatchObject({ status: 400, param: 'n' });
    await expect(generate({ scheduler: 'lcm', num_inference_steps: 80 })).rejects.toMatchObject({ status: 400, param: 'num_inference_steps' });
    await expect(generate({ model: 'dall-e-3' })).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
  });
});

describe('dynamic batching through the server', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess(['serve', 'models/tiny-sd', '--device', 'cpu', '--max-batch-size', '4', '--batch-wait-ms', '200']);
    await server.ready();
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
  });

  const post = (body: Record<string, unknown>) =>
    fetch(`${server.url}/v1/images/generations`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ size: '64x64', num_inference_steps: 3, ...body }),
    }).then(async (res) => ((await res.json()) as { data: Array<{ b64_json: string }> }).data[0]!.b64_json);

  it('returns the same image for a request batched with others as for it alone (bitwise on CPU)', async () => {
    const alone = await post({ prompt: 'a red fox', seed: 5, guidance_scale: 6 });
    // An idle engine starts a request at once; requests that arrive while it is busy form the next batch.
    const busy = post({ prompt: 'keeps the engine busy', size: '256x256', num_inference_steps: 20, seed: 1 });
    for (let i = 0; i < 500; i++) {
      if (((await (await fetch(`${server.url}/health`)).json()) as { queue_size: number }).queue_size === 1) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const batched = await Promise.all([
      post({ prompt: 'a red fox', seed: 5, guidance_scale: 6 }),
      post({ prompt: 'a blue whale', negative_prompt: 'blurry', seed: 9, guidance_scale: 3 }),
      post({ prompt: 'a green frog', seed: 11, guidance_scale: 8 }),
    ]);
    await busy;
    expect(batched[0]).toBe(alone);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    // One batch of three images ran: the batch-size histogram's 3-bucket counts it, the 2-bucket does not.
    const bucket = (le: string) => Number(new RegExp(`hypergen_batch_size_bucket\\{le="${le}"\\} (\\d+)`).exec(metrics)?.[1]);
    expect(bucket('3') - bucket('2')).toBe(1);
  });
});
