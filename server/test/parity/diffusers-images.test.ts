// The diffusers parity bar, end to end: `hypergen serve` on the upstream diffusers folders of fixtures/parity (it
// converts them itself), every request of cases.json through the OpenAI SDK, each image against the one diffusers
// made from the same weights with torch.Generator("cpu").manual_seed(seed + i): max |diff| <= 3/255, PSNR >= 40 dB.
// The same for fixtures/vae-tiling served with --vae-tiling on, against diffusers with pipe.vae.enable_tiling().
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import sharp from 'sharp';
import { startServerProcess, type ServerProcess } from '../../../hack/src/server-process.js';

const FIXTURES = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'fixtures');
const PARITY = join(FIXTURES, 'parity');
const MAX_DIFF = 3;
const MIN_PSNR = 40;

interface Case {
  model: string;
  id: string;
  body: Record<string, unknown> & { n: number };
}
/** Each suite: its cases, where their reference images are, and the serve flags they need. */
interface Suite {
  name: string;
  refs: string;
  flags: string[];
  cases: Case[];
}
const readCases = (dir: string): Case[] => (JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as { cases: Case[] }).cases;
const suites: Suite[] = [
  { name: 'default', refs: join(PARITY, 'refs', 'torch-seed'), flags: [], cases: readCases(PARITY) },
  { name: 'vae tiling', refs: join(FIXTURES, 'vae-tiling', 'refs'), flags: ['--vae-tiling', 'on'], cases: readCases(join(FIXTURES, 'vae-tiling')) },
];
const runs = suites.flatMap((suite) => [...new Set(suite.cases.map((c) => c.model))].map((model) => [`${model} (${suite.name})`, model, suite] as const));

async function rgb(png: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** max |a - b| over all channels and the PSNR in dB (Infinity when equal). */
function compare(a: Buffer, b: Buffer): { maxDiff: number; psnr: number } {
  let maxDiff = 0;
  let squared = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d > maxDiff) maxDiff = d;
    squared += d * d;
  }
  const mse = squared / a.length;
  return { maxDiff, psnr: mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse) };
}

const figures: string[] = [];
afterAll(() => console.log(`diffusers parity (max diff /255, PSNR dB):\n${figures.join('\n')}`));

describe.each(runs)('%s served from its diffusers folder reproduces diffusers images', (_name, model, suite) => {
  let server: ServerProcess;
  let client: OpenAI;
  let cache: string;
  beforeAll(async () => {
    cache = mkdtempSync(join(tmpdir(), `hypergen-parity-${model}-`));
    server = await startServerProcess(['serve', join(PARITY, 'diffusers', model), '--model-id', model, '--device', 'cpu', '--dtype', 'fp32', '--cache-dir', cache, ...suite.flags]);
    await server.ready(120_000);
    client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
  }, 180_000);
  afterAll(async () => {
    await server?.stop('SIGKILL');
    rmSync(cache, { recursive: true, force: true });
  });

  it.each(suite.cases.filter((c) => c.model === model).map((c) => [c.id, c] as const))('%s', async (_id, testCase) => {
    const res = await client.images.generate(testCase.body as unknown as OpenAI.ImageGenerateParamsNonStreaming);
    expect(res.data).toHaveLength(testCase.body.n);
    for (const [i, image] of res.data!.entries()) {
      expect((image as { seed?: number }).seed).toBe((testCase.body.seed as number) + i);
      const ours = await rgb(Buffer.from(image.b64_json!, 'base64'));
      const reference = await rgb(readFileSync(join(suite.refs, model, `${testCase.id}_${i}.png`)));
      expect([ours.width, ours.height]).toEqual([reference.width, reference.height]);
      const { maxDiff, psnr } = compare(ours.data, reference.data);
      figures.push(`${model} ${suite.name} ${testCase.id}_${i}: max ${maxDiff}, PSNR ${psnr.toFixed(1)}`);
      expect(maxDiff).toBeLessThanOrEqual(MAX_DIFF);
      expect(psnr).toBeGreaterThanOrEqual(MIN_PSNR);
    }
  });
});
