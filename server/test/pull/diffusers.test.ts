// hf:// diffusers-format repositories against the Hub mock: only what conversion needs is requested (asserted path by
// path), the result equals converting the folder locally and serves; a second pull downloads and converts nothing;
// unsupported architectures and truncated weights fail in one line (exit 2) before any weights are fetched.
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { makeDiffusersRepo, NEVER_FETCHED, shardCheckpoint } from '../../../hack/src/hubmock/diffusers-repo.js';
import { startHubMock, type HubMock, type LoggedRequest } from '../../../hack/src/hubmock/server.js';
import { runCli } from '../../../hack/src/server-process.js';
import { MARKER_FILE as CONVERT_MARKER } from '../../src/convert/convert-pipeline.js';
import { MissingFileError, SafetensorsError, UnsupportedModelError } from '../../src/convert/errors.js';
import { ClipTokenizer } from '../../src/engine/tokenizer/clip-tokenizer.js';
import { sourceDirFor } from '../../src/pull/diffusers.js';
import { pullModel } from '../../src/pull/index.js';
import { serveOnce } from '../support/serve-once.js';
import { listFiles } from '../../src/pull/pipeline.js';
import { captureLogger } from './fixtures.js';

const SD15 = resolve('server/test/fixtures/parity/diffusers/sd15-tiny');
const SDXL = resolve('server/test/fixtures/parity/diffusers/sdxl-tiny');
const FAST_RETRY = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };
const REPO = 'hg-test/sd15-diffusers';

let root: string;
let mock: HubMock;
/** Local conversions of the repository folder, the reference for what a pull must produce. */
const reference: Record<string, string> = {};
/** The SD 1.x repository's folder (REPO on the mock hub). */
let repoFolder = '';

const tempDir = () => mkdtempSync(join(root, 'run-'));

/** A copy of sd15-tiny as the Hub holds it, with one change. */
function variantRepo(name: string, change: (dir: string) => void): string {
  const dir = makeDiffusersRepo(SD15, join(root, `repo-${name}`));
  change(dir);
  return dir;
}

const edit = (file: string, from: string, to: string) => writeFileSync(file, readFileSync(file, 'utf8').replace(from, to));

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'hg-pull-diffusers-'));
  const repo = makeDiffusersRepo(SD15, join(root, 'repo'), { fp16Unet: true });
  repoFolder = repo;
  const sdxl = makeDiffusersRepo(SDXL, join(root, 'repo-sdxl'));
  const repos = {
    [REPO]: repo,
    'hg-test/sdxl-diffusers': sdxl,
    'hg-test/sd3': variantRepo('sd3', (d) => edit(join(d, 'model_index.json'), '"StableDiffusionPipeline"', '"StableDiffusion3Pipeline"')),
    'hg-test/inpaint': variantRepo('inpaint', (d) => edit(join(d, 'unet/config.json'), '"in_channels": 4', '"in_channels": 9')),
    'hg-test/truncated': variantRepo('truncated', (d) => {
      const f = join(d, 'unet/diffusion_pytorch_model.safetensors');
      writeFileSync(f, readFileSync(f).subarray(0, 100_000));
    }),
    'hg-test/no-weights': variantRepo('no-weights', (d) => {
      rmSync(join(d, 'vae/diffusion_pytorch_model.safetensors'));
      rmSync(join(d, 'vae/diffusion_pytorch_model.ckpt'));
    }),
    'hg-test/sharded': variantRepo('sharded', (d) => shardCheckpoint(join(d, 'unet'), 'diffusion_pytorch_model')),
    'hg-test/pickle-only': variantRepo('pickle-only', (d) => rmSync(join(d, 'unet/diffusion_pytorch_model.safetensors'))),
  };
  mock = await startHubMock({ repos });
  // Conversions run as processes (the compiled converter): in the test VM they are many times slower.
  for (const dtype of ['fp32', 'fp16'] as const) {
    reference[dtype] = join(root, `reference-${dtype}`);
    expect((await runCli(['convert', repo, '--out', reference[dtype], '--dtype', dtype, '--log-level', 'silent'])).code).toBe(0);
  }
  reference.sdxl = join(root, 'reference-sdxl');
  expect((await runCli(['convert', sdxl, '--out', reference.sdxl, '--log-level', 'silent'])).code).toBe(0);
}, 180_000);

afterAll(async () => {
  await mock.close();
  rmSync(root, { recursive: true, force: true });
});

afterEach(() => {
  mock.requests.length = 0;
});

/** In this process: for the refusals, which come before any conversion. */
function pull(uri: string, dir: string, freeBytes?: (dir: string) => Promise<number>) {
  const { logger } = captureLogger();
  return pullModel(uri, dir, { logger, env: { HF_ENDPOINT: mock.url }, context: { retry: FAST_RETRY, ...(freeBytes ? { freeBytes } : {}) } });
}

/** `hypergen pull` as a process, with its JSON log lines' messages. */
async function pullCli(uri: string, dir: string, dtype: 'fp32' | 'fp16', env: Record<string, string> = {}, flags: string[] = []) {
  const r = await runCli(['pull', uri, '--dir', dir, '--dtype', dtype, ...flags], { PATH: process.env.PATH ?? '', HF_ENDPOINT: mock.url, ...env });
  expect(r).toMatchObject({ code: 0, stderr: '' });
  return { stdout: r.stdout, messages: r.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { msg: string }).msg) };
}

const CONVERTED = 'converted';
const CURRENT = 'conversion is current; nothing converted';

/** Repository paths whose bytes were asked for, whole (no Range) or by ranged reads of their head. */
function requested(requests: readonly LoggedRequest[]) {
  const whole = new Set<string>();
  const ranged = new Set<string>();
  for (const r of requests) if (r.path && (r.server === 'cdn' || r.status < 300)) (r.range ? ranged : whole).add(r.path);
  return { whole: [...whole].sort(), ranged: [...ranged].sort() };
}

/** The sha256 of the ONNX graphs and their data, by path, of a converted folder. */
function graphs(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of readdirSync(dir)) {
    if (c.startsWith('.')) continue;
    for (const f of ['model.onnx', 'model.onnx_data']) {
      try {
        out[`${c}/${f}`] = createHash('sha256').update(readFileSync(join(dir, c, f))).digest('hex');
      } catch {
        // tokenizer/, scheduler/: no graph
      }
    }
  }
  return out;
}

const CONFIGS = ['model_index.json', 'scheduler/scheduler_config.json', 'text_encoder/config.json', 'unet/config.json', 'vae/config.json'];
const TOKENIZER = ['tokenizer/merges.txt', 'tokenizer/special_tokens_map.json', 'tokenizer/tokenizer_config.json', 'tokenizer/vocab.json'];

describe('hypergen pull hf:// of a diffusers repository', () => {
  it('downloads only what conversion needs, checks every header first, and converts into dir as converting the folder does', async () => {
    const dir = join(tempDir(), 'model');
    const first = await pullCli(`hf://${REPO}`, dir, 'fp32');
    expect(first.messages).toEqual(expect.arrayContaining(['pulling diffusers pipeline for conversion', 'download started', 'file downloaded', 'model pulled', CONVERTED]));
    const weights = ['text_encoder/model.safetensors', 'unet/diffusion_pytorch_model.safetensors', 'vae/diffusion_pytorch_model.safetensors'];
    const { whole, ranged } = requested(mock.requests);
    expect(whole).toEqual([...CONFIGS, ...TOKENIZER, ...weights].sort());
    expect(ranged).toEqual(weights);
    for (const never of [...NEVER_FETCHED, 'unet/diffusion_pytorch_model.fp16.safetensors']) expect(mock.requests.some((r) => r.path === never)).toBe(false);
    // Every header was read before the first whole weights file.
    const firstWhole = mock.requests.findIndex((r) => weights.includes(r.path ?? '') && !r.range && r.server === 'cdn');
    const lastRanged = mock.requests.map((r) => Boolean(r.range)).lastIndexOf(true);
    expect(lastRanged).toBeLessThan(firstWhole);
    expect(graphs(dir)).toEqual(graphs(reference.fp32!));
    const marker = JSON.parse(readFileSync(join(dir, CONVERT_MARKER), 'utf8'));
    expect(marker).toMatchObject({ origin: { uri: `hf://${REPO}@main`, commit: mock.repos.get(REPO)!.commit }, options: { dtype: 'fp32' } });
    expect(first.stdout).toMatch(/"component":"unet"/);
    expect((await listFiles(sourceDirFor(dir))).sort()).toEqual([...CONFIGS, ...TOKENIZER, ...weights, '.hypergen-complete.json'].sort());

    // A second pull lists the branch (it may have moved) and does nothing else.
    mock.requests.length = 0;
    const again = await pullCli(`hf://${REPO}`, dir, 'fp32');
    expect(again.messages).toContain(CURRENT);
    expect(again.messages).not.toContain(CONVERTED);
    expect(mock.requests.map((r) => r.url.split('?')[0])).toEqual([`/api/models/${REPO}/revision/main`]);
    // Offline, not even that.
    mock.requests.length = 0;
    expect((await pullCli(`hf://${REPO}`, dir, 'fp32', { HF_HUB_OFFLINE: '1' })).messages).toContain(CURRENT);
    expect(mock.requests).toEqual([]);

    // A new commit that changes nothing the converter reads (the README) downloads nothing and converts nothing.
    const repo = mock.repos.get(REPO)!;
    const readme = Buffer.from('# edited\n');
    repo.files.set('README.md', { path: 'README.md', data: readme, gitOid: createHash('sha1').update(`blob ${readme.length}\0`).update(readme).digest('hex') });
    repo.commit = createHash('sha1').update(`${repo.commit} README`).digest('hex');
    mock.requests.length = 0;
    const moved = await pullCli(`hf://${REPO}`, dir, 'fp32');
    expect(moved.messages).toEqual(expect.arrayContaining(['model pulled', CURRENT]));
    expect(moved.messages).not.toContain(CONVERTED);
    expect(requested(mock.requests).whole).toEqual([]);
    expect(JSON.parse(readFileSync(join(sourceDirFor(dir), '.hypergen-complete.json'), 'utf8')).commit).toBe(repo.commit);
  });

  it('--attention plain converts with MatMul/Softmax attention as `hypergen convert --attention plain` does; fused again converts again', async () => {
    const plainReference = join(tempDir(), 'reference-plain');
    expect((await runCli(['convert', repoFolder, '--out', plainReference, '--attention', 'plain', '--log-level', 'silent'])).code).toBe(0);
    const dir = join(tempDir(), 'model');
    expect((await pullCli(`hf://${REPO}`, dir, 'fp32', {}, ['--attention', 'plain'])).messages).toContain(CONVERTED);
    expect(graphs(dir)).toEqual(graphs(plainReference));
    expect(graphs(dir)).not.toEqual(graphs(reference.fp32!));
    expect(JSON.parse(readFileSync(join(dir, CONVERT_MARKER), 'utf8')).options).toEqual({ dtype: 'fp32', attention: 'plain' });
    expect((await pullCli(`hf://${REPO}`, dir, 'fp32')).messages).toContain(CONVERTED);
    expect(graphs(dir)).toEqual(graphs(reference.fp32!));
  });

  it('fp16: takes the fp16 variant where the repository has one, the full file elsewhere; a pinned commit needs no network the second time', async () => {
    const dir = join(tempDir(), 'model');
    const commit = mock.repos.get(REPO)!.commit;
    expect((await pullCli(`hf://${REPO}@${commit}`, dir, 'fp16')).messages).toContain(CONVERTED);
    const { whole } = requested(mock.requests);
    expect(whole).toContain('unet/diffusion_pytorch_model.fp16.safetensors');
    expect(whole).not.toContain('unet/diffusion_pytorch_model.safetensors');
    expect(whole).toContain('text_encoder/model.safetensors');
    expect(graphs(dir)).toEqual(graphs(reference.fp16!));
    mock.requests.length = 0;
    expect((await pullCli(`hf://${REPO}@${commit}`, dir, 'fp16')).messages).toContain(CURRENT);
    expect(mock.requests).toEqual([]);
  });

  it('SDXL: the second text encoder and tokenizer too', async () => {
    const dir = join(tempDir(), 'model');
    expect((await pullCli('hf://hg-test/sdxl-diffusers', dir, 'fp32')).messages).toContain(CONVERTED);
    const { whole } = requested(mock.requests);
    const folders = (paths: string[]) => [...new Set(paths.map((p) => p.split('/')[0]))].sort();
    expect(folders(whole)).toEqual(['model_index.json', 'scheduler', 'text_encoder', 'text_encoder_2', 'tokenizer', 'tokenizer_2', 'unet', 'vae']);
    expect(whole).toEqual(expect.arrayContaining(['text_encoder_2/config.json', 'text_encoder_2/model.safetensors', 'tokenizer_2/vocab.json', 'tokenizer_2/merges.txt']));
    expect(graphs(dir)).toEqual(graphs(reference.sdxl!));
    expect(Object.keys(graphs(dir))).toContain('text_encoder_2/model.onnx');
  });

  it('a sharded checkpoint: its index, then exactly the shards it lists', async () => {
    const dir = join(tempDir(), 'model');
    expect((await pullCli('hf://hg-test/sharded', dir, 'fp32')).messages).toContain(CONVERTED);
    const unet = requested(mock.requests).whole.filter((p) => p.startsWith('unet/'));
    expect(unet).toEqual(['unet/config.json', 'unet/diffusion_pytorch_model-00001-of-00002.safetensors', 'unet/diffusion_pytorch_model-00002-of-00002.safetensors', 'unet/diffusion_pytorch_model.safetensors.index.json']);
    expect(graphs(dir)).toEqual(graphs(reference.fp32!));
  });

  it('a local diffusers folder is converted into --dir (and not again)', async () => {
    const dir = join(tempDir(), 'model');
    expect((await pullCli(SD15, dir, 'fp32')).messages).toContain(CONVERTED);
    expect(graphs(dir)).toEqual(graphs(reference.fp32!));
    expect((await pullCli(SD15, dir, 'fp32')).messages).toContain(CURRENT);
    expect(mock.requests).toEqual([]);
  });

  it.each([
    ['hg-test/sd3', UnsupportedModelError, /^hf:\/\/hg-test\/sd3@main: StableDiffusion3Pipeline \(SD3\) is not supported/],
    ['hg-test/inpaint', UnsupportedModelError, /^hf:\/\/hg-test\/inpaint@main\/unet\/config\.json: a 9-channel inpainting UNet is not supported$/],
    ['hg-test/no-weights', MissingFileError, /^vae_decoder weights: hf:\/\/hg-test\/no-weights@main\/vae\/diffusion_pytorch_model\.safetensors is missing$/],
    ['hg-test/pickle-only', UnsupportedModelError, /^hf:\/\/hg-test\/pickle-only@main\/unet: only pickle checkpoints \(\.bin\/\.ckpt\); HyperGen reads safetensors weights only$/],
  ])('%s is refused before any safetensors is requested', async (repo, type, message) => {
    const dir = join(tempDir(), 'model');
    const error = await pull(`hf://${repo}`, dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toMatch(message);
    expect(mock.requests.filter((r) => r.path?.endsWith('.safetensors'))).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a truncated safetensors file is named from its header alone: no whole weights file is downloaded', async () => {
    const error = await pull('hf://hg-test/truncated', join(tempDir(), 'model')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SafetensorsError);
    expect((error as Error).message).toMatch(/^hf:\/\/hg-test\/truncated@main\/unet\/diffusion_pytorch_model\.safetensors: not a valid safetensors file: .*truncated/);
    expect(mock.requests.filter((r) => r.path?.endsWith('.safetensors') && !r.range)).toEqual([]);
  });

  it('checks free space for the downloads and the conversion before fetching any weights', async () => {
    const error = await pull(`hf://${REPO}`, join(tempDir(), 'model'), async () => 20_000_000).catch((e: unknown) => e);
    // 13.0 MiB of weights still to download (the small files came first), and 14.4 MiB for the fp32 graphs and copies (they come to 14.6).
    expect((error as Error).message).toMatch(/^disk full: hf:\/\/hg-test\/sd15-diffusers@main needs 27\.4 MiB more in .* \(13\.0 MiB to download, 14\.4 MiB for the fp32 conversion\) and only 19\.1 MiB is free$/);
    expect(mock.requests.filter((r) => r.path?.endsWith('.safetensors') && !r.range)).toEqual([]);
  });

  it('a gated repository: the token goes to the Hub for listing, configs and header reads, never to the CDN', async () => {
    const token = 'hf_diffusersGated_5e8a1c';
    const gated = await startHubMock({ repos: { [REPO]: join(root, 'repo') }, token });
    try {
      const env = { PATH: process.env.PATH ?? '', HF_ENDPOINT: gated.url };
      const dir = join(tempDir(), 'model');
      const refused = await runCli(['pull', `hf://${REPO}`, '--dir', dir], env);
      expect(refused.code).toBe(1);
      const r = await runCli(['pull', `hf://${REPO}`, '--dir', dir], { ...env, HF_TOKEN: token });
      expect(r.code).toBe(0);
      expect(r.stdout + r.stderr).not.toContain(token);
      expect(gated.requests.some((q) => q.server === 'hub' && q.range !== undefined && q.authorization)).toBe(true);
      expect(gated.requests.filter((q) => q.server === 'cdn' && q.authorization)).toEqual([]);
      expect(graphs(dir)).toEqual(graphs(reference.fp32!));
    } finally {
      await gated.close();
    }
  });

  it('the CLI: exit 2 and one line for an unsupported architecture or a truncated file; --dtype is checked', async () => {
    const hypergen = (args: string[]) => runCli(args, { PATH: process.env.PATH ?? '', HF_ENDPOINT: mock.url });
    for (const [repo, message] of [
      ['hg-test/sd3', /StableDiffusion3Pipeline \(SD3\) is not supported/],
      ['hg-test/truncated', /unet\/diffusion_pytorch_model\.safetensors: not a valid safetensors file/],
    ] as const) {
      const r = await hypergen(['pull', `hf://${repo}`, '--dir', join(tempDir(), 'model'), '--log-level', 'silent']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^hypergen: [^\n]*\n$/);
      expect(r.stderr).toMatch(message);
    }
    expect((await hypergen(['pull', `hf://${REPO}`, '--dir', join(tempDir(), 'model'), '--dtype', 'int8'])).code).toBe(2);
  });
});

describe('hypergen serve hf:// of a diffusers repository', () => {
  it('pulls, converts into --cache-dir and serves; a second start downloads and converts nothing', async () => {
    const cache = tempDir();
    const start = async (): Promise<string> => {
      const served = await serveOnce(['serve', `hf://${REPO}`, '--cache-dir', cache, '--device', 'cpu', '--dtype', 'fp32'], { HF_ENDPOINT: mock.url });
      expect(served.status).toBe(200);
      expect(served.image!.subarray(1, 4).toString()).toBe('PNG');
      return served.output;
    };
    const first = await start();
    expect(first).toMatch(/"msg":"model pulled"/);
    expect(first).toMatch(/"msg":"converted"/);
    mock.requests.length = 0;
    const second = await start();
    expect(second).toMatch(/nothing downloaded/);
    expect(second).toMatch(/conversion is current; nothing converted/);
    expect(mock.requests.filter((r) => r.path !== undefined)).toEqual([]);
  });
});

describe('configs with Python JSON literals', () => {
  it('converts a pipeline whose configs hold -Infinity and NaN (as diffusers writes them)', async () => {
    const dir = join(tempDir(), 'src');
    cpSync(SD15, dir, { recursive: true });
    edit(join(dir, 'unet/config.json'), '{', '{\n  "hypergen_test_floor": -Infinity,');
    edit(join(dir, 'vae/config.json'), '{', '{\n  "hypergen_test_nan": NaN,');
    edit(join(dir, 'tokenizer/tokenizer_config.json'), '{', '{\n  "hypergen_test_ceiling": Infinity,');
    edit(join(dir, 'scheduler/scheduler_config.json'), '{', '{\n  "lambda_min_clipped": -Infinity,');
    const out = join(tempDir(), 'out');
    const r = await runCli(['convert', dir, '--out', out, '--log-level', 'silent']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(graphs(out)).toEqual(graphs(reference.fp32!));
    // The tokenizer reads its config the same way.
    expect(ClipTokenizer.fromDir(join(out, 'tokenizer')).encode('a photo of a cat').length).toBeGreaterThan(2);
  });
});
