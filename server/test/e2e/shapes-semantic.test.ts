// A test that looks at the pictures: the shapes demo model (models/shapes, converted from hack/demo-model by
// `make tiny-models`) served by a real `hypergen serve` and asked through the OpenAI SDK for three scenes at four
// seeds each. The centre of each image must be mostly the prompted shape colour and its corners mostly the prompted
// background; at least 3 of 4 seeds per prompt must pass. Random or wrongly conditioned weights cannot pass this.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import sharp from 'sharp';
import { DEFAULT_MODEL, README_IMAGE, readmeGenerationBody } from '../../../hack/src/demo/readme-example.js';
import { REPO_ROOT, startServerProcess, type ServerProcess } from '../../../hack/src/server-process.js';

/** The demo model's eight colours as it draws them (sampled from diffusers' own images of it, hack/demo-model/grid.png). */
const PALETTE = {
  red: [220, 37, 32],
  blue: [60, 65, 225],
  yellow: [245, 205, 38],
  black: [12, 14, 13],
  white: [244, 246, 249],
  purple: [140, 45, 170],
  orange: [250, 125, 20],
  green: [28, 165, 61],
} as const;
type Colour = keyof typeof PALETTE;

const PROMPTS: { prompt: string; shape: Colour; background: Colour }[] = [
  { prompt: 'a red circle on a blue background', shape: 'red', background: 'blue' },
  { prompt: 'a yellow circle on a black background', shape: 'yellow', background: 'black' },
  { prompt: 'an orange square on a blue background', shape: 'orange', background: 'blue' },
];
const SEEDS = [0, 1, 2, 3];

function nearest(r: number, g: number, b: number): Colour {
  let best: Colour = 'black';
  let bestDistance = Infinity;
  for (const [name, [pr, pg, pb]] of Object.entries(PALETTE) as [Colour, readonly number[]][]) {
    const d = (r - pr!) ** 2 + (g - pg!) ** 2 + (b - pb!) ** 2;
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

/** Share of each palette colour among the pixels of a square region (x0, y0, side), in image pixels. */
function colourShares(data: Buffer, width: number, x0: number, y0: number, side: number): Map<Colour, number> {
  const counts = new Map<Colour, number>();
  for (let y = y0; y < y0 + side; y++) {
    for (let x = x0; x < x0 + side; x++) {
      const i = (y * width + x) * 3;
      const c = nearest(data[i]!, data[i + 1]!, data[i + 2]!);
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
  }
  for (const [c, n] of counts) counts.set(c, n / (side * side));
  return counts;
}

interface SceneVerdict {
  centre: number;
  corners: number;
  pass: boolean;
}

/** Centre: the middle quarter (side/4 square); corners: four side/8 squares; "mostly" = over half of the pixels. */
async function judgeScene(png: Buffer, shape: Colour, background: Colour): Promise<SceneVerdict> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const side = info.width;
  const c = Math.round(side / 4);
  const k = Math.round(side / 8);
  const centre = colourShares(data, side, Math.round((side - c) / 2), Math.round((side - c) / 2), c).get(shape) ?? 0;
  const cornerOrigins = [[0, 0], [side - k, 0], [0, side - k], [side - k, side - k]] as const;
  const corners = Math.min(...cornerOrigins.map(([x, y]) => colourShares(data, side, x, y, k).get(background) ?? 0));
  return { centre, corners, pass: centre > 0.5 && corners > 0.5 };
}

describe('the shapes model draws what it is told', () => {
  let server: ServerProcess;
  let client: OpenAI;
  beforeAll(async () => {
    server = await startServerProcess(['serve', DEFAULT_MODEL.dir, '--model-id', DEFAULT_MODEL.id, '--device', 'cpu']);
    await server.ready(120_000);
    client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
  }, 180_000);
  afterAll(async () => {
    await server?.stop('SIGKILL');
  });

  it.each(PROMPTS.map((p) => [p.prompt, p] as const))('%s', async (_name, { prompt, shape, background }) => {
    const verdicts: SceneVerdict[] = [];
    for (const seed of SEEDS) {
      const res = await client.images.generate({ prompt, size: '128x128', seed, num_inference_steps: 20, guidance_scale: 7.5 } as unknown as OpenAI.ImageGenerateParamsNonStreaming);
      verdicts.push(await judgeScene(Buffer.from(res.data![0]!.b64_json!, 'base64'), shape, background));
    }
    console.log(`${prompt}: ${verdicts.map((v, i) => `seed ${SEEDS[i]} centre ${(100 * v.centre).toFixed(0)}% corners ${(100 * v.corners).toFixed(0)}%`).join('; ')}`);
    expect(verdicts.filter((v) => v.pass).length).toBeGreaterThanOrEqual(3);
  });

  it("answers the README's first-screen command with the red circle on blue that the README shows", async () => {
    const body = readmeGenerationBody();
    expect(body.prompt).toBe('a red circle on a blue background');
    const res = await fetch(`${server.url}/v1/images/generations`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    const png = Buffer.from(((await res.json()) as { data: { b64_json: string }[] }).data[0]!.b64_json, 'base64');
    expect(await judgeScene(png, 'red', 'blue')).toMatchObject({ pass: true });
    // The committed picture is this answer (up to float rounding on another CPU).
    const raw = async (image: Buffer) => (await sharp(image).removeAlpha().raw().toBuffer()) as Buffer;
    const [ours, shown] = await Promise.all([raw(png), raw(readFileSync(join(REPO_ROOT, README_IMAGE)))]);
    expect(ours.length).toBe(shown.length);
    expect(Math.max(...ours.map((v, i) => Math.abs(v - shown[i]!)))).toBeLessThanOrEqual(3);
  });
});
