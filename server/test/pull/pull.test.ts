import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as tar from 'tar-stream';
import { gzipSync } from 'node:zlib';
import { startHubMock, type HubMock } from '../../../hack/src/hubmock/server.js';
import { listFiles } from '../../src/pull/pipeline.js';
import { pullModel, resolveModel } from '../../src/pull/index.js';
import { MARKER_FILE } from '../../src/pull/cache.js';
import { captureLogger, makeRepoFolder, SKIPPED } from './fixtures.js';

const REPO = 'hg-test/tiny-sd';
const TOKEN = 'hf_mocktoken_3b1f9a7c5d';
const FAST_RETRY = { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 };

let repoDir: string;
let mock: HubMock;
let gated: HubMock;
const scratch: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hg-pull-'));
  scratch.push(dir);
  return dir;
}

function pull(uri: string, dir: string, env: Record<string, string> = {}, extra: { freeBytes?: (d: string) => Promise<number> } = {}) {
  const { logger, lines } = captureLogger();
  const promise = pullModel(uri, dir, {
    logger,
    env: { HF_ENDPOINT: mock.url, ...env },
    context: { retry: FAST_RETRY, ...extra },
  });
  return { promise, lines };
}

/** The repository files the pull is expected to fetch. */
function expectedFiles(): string[] {
  // Top-level files other than model_index.json (README, the generator's notes) are not part of the pipeline.
  return [...mock.repos.get(REPO)!.files.keys()].filter((p) => !SKIPPED.includes(p) && (p.includes('/') || p === 'model_index.json')).sort();
}

async function tarGz(root: string, prefix: string): Promise<Buffer> {
  const pack = tar.pack();
  for (const path of await listFiles(root)) pack.entry({ name: `${prefix}${path}` }, readFileSync(join(root, path)));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

beforeAll(async () => {
  repoDir = makeRepoFolder();
  mock = await startHubMock({
    repos: { [REPO]: repoDir },
    files: {
      'tiny-sd.tar.gz': await tarGz(repoDir, 'tiny-sd/'),
      'broken.tar.gz': gzipSync(Buffer.alloc(1024)),
    },
  });
  gated = await startHubMock({ repos: { [REPO]: repoDir }, token: TOKEN });
});

afterAll(async () => {
  await mock.close();
  await gated.close();
  rmSync(repoDir, { recursive: true, force: true });
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  mock.requests.length = 0;
  mock.faults.length = 0;
});

describe('hypergen pull hf://', () => {
  it('downloads exactly the ONNX pipeline files, verified, through 302s to the CDN, and writes the marker', async () => {
    const dir = tempDir();
    const result = await pull(`hf://${REPO}`, dir).promise;
    expect(result).toEqual({ dir, commit: mock.repos.get(REPO)!.commit, downloaded: true });
    const files = (await listFiles(dir)).filter((f) => f !== MARKER_FILE).sort();
    expect(files).toEqual(expectedFiles());
    for (const f of files) expect(readFileSync(join(dir, f)).equals(readFileSync(join(repoDir, f)))).toBe(true);
    const marker = JSON.parse(readFileSync(join(dir, MARKER_FILE), 'utf8'));
    expect(marker.commit).toBe(mock.repos.get(REPO)!.commit);
    expect(marker.files.map((f: { path: string }) => f.path).sort()).toEqual(expectedFiles());
    // LFS files came from the CDN origin, which never saw the Authorization header; no skipped file was asked for.
    const cdn = mock.requests.filter((r) => r.server === 'cdn');
    expect(cdn.length).toBeGreaterThan(0);
    expect(mock.requests.some((r) => r.path && SKIPPED.includes(r.path))).toBe(false);
    expect(mock.requests.filter((r) => r.server === 'hub' && r.status === 302).length).toBe(cdn.length);
  });

  it('a complete cache makes no download; a pinned commit makes no request at all', async () => {
    const dir = tempDir();
    await pull(`hf://${REPO}`, dir).promise;
    mock.requests.length = 0;
    expect((await pull(`hf://${REPO}`, dir).promise).downloaded).toBe(false);
    expect(mock.requests.map((r) => r.url)).toEqual([`/api/models/${REPO}/revision/main?blobs=true`]);
    mock.requests.length = 0;
    const commit = mock.repos.get(REPO)!.commit;
    const pinned = tempDir();
    await pull(`hf://${REPO}@${commit}`, pinned).promise;
    mock.requests.length = 0;
    expect((await pull(`hf://${REPO}@${commit}`, pinned).promise).downloaded).toBe(false);
    expect(mock.requests).toEqual([]);
  });

  it('resumes a transfer cut mid-file with a Range request, without fetching any byte twice', async () => {
    const dir = tempDir();
    const file = 'unet/model.onnx';
    const size = mock.repos.get(REPO)!.files.get(file)!.data.length;
    const cut = Math.floor(size / 2);
    mock.faults.push({ kind: 'cut', path: file, afterBytes: cut });
    await pull(`hf://${REPO}`, dir).promise;
    const transfers = mock.requests.filter((r) => r.server === 'cdn' && r.path === file);
    expect(transfers.map((r) => r.range)).toEqual([undefined, `bytes=${cut}-`]);
    expect(transfers.map((r) => r.bytes)).toEqual([cut, size - cut]);
    expect(readFileSync(join(dir, file)).equals(readFileSync(join(repoDir, file)))).toBe(true);
    expect(existsSync(join(dir, `${file}.incomplete`))).toBe(false);
  });

  it('resumes in a later run (a killed pod) from the .incomplete file, and only then marks the folder complete', async () => {
    const dir = tempDir();
    const file = 'unet/model.onnx_data';
    const size = mock.repos.get(REPO)!.files.get(file)!.data.length;
    const cut = Math.floor(size / 3);
    mock.faults.push({ kind: 'cut', path: file, afterBytes: cut });
    const { logger } = captureLogger();
    const once = { logger, env: { HF_ENDPOINT: mock.url }, context: { retry: { ...FAST_RETRY, attempts: 1 } } };
    await expect(pullModel(`hf://${REPO}`, dir, once)).rejects.toThrow(`${file}: download failed after 1 tries: terminated`);
    expect(existsSync(join(dir, file))).toBe(false);
    expect(existsSync(join(dir, MARKER_FILE))).toBe(false);
    expect(readFileSync(join(dir, `${file}.incomplete`)).length).toBe(cut);
    mock.requests.length = 0;
    expect((await pull(`hf://${REPO}`, dir).promise).downloaded).toBe(true);
    const transfers = mock.requests.filter((r) => r.path === file && r.server === 'cdn');
    expect(transfers.map((r) => [r.range, r.bytes])).toEqual([[`bytes=${cut}-`, size - cut]]);
    expect(readFileSync(join(dir, file)).equals(readFileSync(join(repoDir, file)))).toBe(true);
  });

  it('retries a 5xx once on the listing and on a file', async () => {
    const dir = tempDir();
    mock.faults.push({ kind: 'status', on: 'listing', status: 503 }, { kind: 'status', on: 'file', path: 'scheduler/scheduler_config.json', status: 500 });
    await pull(`hf://${REPO}`, dir).promise;
    expect(mock.requests.filter((r) => r.url.startsWith('/api/')).map((r) => r.status)).toEqual([503, 200]);
    expect(mock.requests.filter((r) => r.path === 'scheduler/scheduler_config.json').map((r) => r.status)).toEqual([500, 200]);
  });

  it('rejects wrong bytes: checksum error, no file, no .incomplete, no marker', async () => {
    const dir = tempDir();
    const file = 'unet/model.onnx';
    mock.faults.push({ kind: 'corrupt', path: file, times: 10 });
    await expect(pull(`hf://${REPO}`, dir).promise).rejects.toThrow(new RegExp(`${file}: checksum mismatch \\(expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}\\)`));
    expect(existsSync(join(dir, file))).toBe(false);
    expect(existsSync(join(dir, `${file}.incomplete`))).toBe(false);
    expect(existsSync(join(dir, MARKER_FILE))).toBe(false);
    // Not retried: the same bytes would come back.
    expect(mock.requests.filter((r) => r.server === 'cdn' && r.path === file).length).toBe(1);
  });

  it('says a token is needed for a gated model (401), refuses a wrong one (403), and works with the right one', async () => {
    const env = { HF_ENDPOINT: gated.url };
    const run = (extra: Record<string, string>) => pullModel(`hf://${REPO}`, tempDir(), { logger: captureLogger().logger, env: { ...env, ...extra }, context: { retry: FAST_RETRY } });
    await expect(run({})).rejects.toThrow(/hg-test\/tiny-sd is gated or private \(HTTP 401 GatedRepo\): a Hugging Face token is needed: set HF_TOKEN .*tokenSecretRef/);
    await expect(run({ HF_TOKEN: 'hf_wrong' })).rejects.toThrow(/refused the token given \(HTTP 403 GatedRepo\)/);
    const tokenFile = join(tempDir(), 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    expect((await run({ HF_TOKEN_FILE: tokenFile })).downloaded).toBe(true);
    // 401/403 are not retried.
    expect(gated.requests.filter((r) => r.status === 401 || r.status === 403).length).toBe(2);
  });

  it('names the missing repository or revision (404)', async () => {
    await expect(pull(`hf://${REPO}@v9`, tempDir()).promise).rejects.toThrow(`revision 'v9' not found in ${REPO} on ${mock.url} (HTTP 404 RevisionNotFound)`);
    await expect(pull('hf://hg-test/nope', tempDir(), { HF_TOKEN: 'hf_any' }).promise).rejects.toThrow(`repository hg-test/nope not found on ${mock.url} (HTTP 404 RepoNotFound)`);
    await expect(pull('hf://hg-test/nope', tempDir()).promise).rejects.toThrow(/hg-test\/nope: repository not found .* or it is private and needs a token/);
    expect(mock.requests.every((r) => r.status !== 0 && r.url.startsWith('/api/'))).toBe(true);
  });

  it('refuses a repository that is not an ONNX pipeline before fetching weights, listing what is missing', async () => {
    await expect(pull(`hf://${REPO}/unet`, tempDir()).promise).rejects.toThrow(
      `hf://${REPO}@main/unet is not an ONNX diffusion pipeline (Optimum layout): missing model_index.json, text_encoder/model.onnx`,
    );
    expect(mock.requests.filter((r) => r.path).length).toBe(0);
  });

  it('fails early when the disk cannot hold the model, saying how much is needed', async () => {
    const dir = tempDir();
    await expect(pull(`hf://${REPO}`, dir, {}, { freeBytes: async () => 1000 }).promise).rejects.toThrow(/^disk full: hf:\/\/hg-test\/tiny-sd@main needs [\d.]+ (KiB|MiB) more in .* and only 1000 B is free$/);
    expect(mock.requests.filter((r) => r.server === 'cdn').length).toBe(0);
  });

  it('writes JSON progress logs off a terminal', async () => {
    const { promise, lines } = pull(`hf://${REPO}`, tempDir());
    await promise;
    const msgs = lines.map((l) => JSON.parse(l).msg);
    expect(msgs).toEqual(expect.arrayContaining(['pulling model', 'download started', 'file downloaded', 'download progress', 'model pulled']));
  });
});

describe('hypergen pull https:// archives', () => {
  it('downloads and unpacks a .tar.gz (one wrapping folder), verifies it, and does not download it again', async () => {
    const dir = tempDir();
    const uri = `${mock.url}/files/tiny-sd.tar.gz`;
    expect((await pull(uri, dir).promise).downloaded).toBe(true);
    expect(readFileSync(join(dir, 'unet/model.onnx')).equals(readFileSync(join(repoDir, 'unet/model.onnx')))).toBe(true);
    expect(readdirSync(dir).filter((f) => ['.hypergen-staging', '.hypergen-archive'].includes(f))).toEqual([]);
    mock.requests.length = 0;
    expect((await pull(uri, dir).promise).downloaded).toBe(false);
    expect(mock.requests).toEqual([]);
  });

  it('rejects an archive whose sha256 differs from the one pinned in the URI', async () => {
    await expect(pull(`${mock.url}/files/tiny-sd.tar.gz#sha256=${'0'.repeat(64)}`, tempDir()).promise).rejects.toThrow(/checksum mismatch/);
  });

  it('rejects an archive that does not hold a pipeline', async () => {
    await expect(pull(`${mock.url}/files/broken.tar.gz`, tempDir()).promise).rejects.toThrow(/is not an ONNX diffusion pipeline .*missing model_index.json/);
  });
});

describe('pvc:// and plain folders', () => {
  it('verifies in place and lists exactly what is missing', async () => {
    const root = tempDir();
    const claimDir = join(root, 'models-claim', 'sd');
    mkdirSync(claimDir, { recursive: true });
    for (const f of await listFiles(repoDir)) {
      mkdirSync(join(claimDir, f, '..'), { recursive: true });
      writeFileSync(join(claimDir, f), readFileSync(join(repoDir, f)));
    }
    const env = { HYPERGEN_PVC_ROOT: root };
    expect((await pull('pvc://models-claim/sd', tempDir(), env).promise).dir).toBe(claimDir);
    expect((await pull(claimDir, tempDir()).promise).dir).toBe(claimDir);
    rmSync(join(claimDir, 'unet/model.onnx'));
    rmSync(join(claimDir, 'tokenizer/merges.txt'));
    await expect(pull('pvc://models-claim/sd', tempDir(), env).promise).rejects.toThrow(
      'pvc://models-claim/sd is not an ONNX diffusion pipeline (Optimum layout): missing unet/model.onnx, tokenizer/merges.txt',
    );
    await expect(pull(join(root, 'nothing'), tempDir()).promise).rejects.toThrow(/no such folder/);
  });

  it('resolveModel pulls hf:// into the cache and returns the folder', async () => {
    const cacheDir = tempDir();
    const { logger } = captureLogger();
    const previous = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = mock.url;
    try {
      const dir = await resolveModel(`hf://${REPO}`, { cacheDir, logger });
      expect(dir.startsWith(cacheDir)).toBe(true);
      expect(existsSync(join(dir, 'unet/model.onnx'))).toBe(true);
      expect(await resolveModel(repoDir, { cacheDir, logger })).toBe(repoDir);
    } finally {
      if (previous === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = previous;
    }
  });
});
