import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startHubMock, type HubMock } from '../../../hack/src/hubmock/server.js';
import { REPO_ROOT, runCli, startServerProcess } from '../../../hack/src/server-process.js';
import { makeRepoFolder } from './fixtures.js';

const REPO = 'hg-test/gated-sd';
const TOKEN = 'hf_cliSecretToken_7c2e91d04b';

let repoDir: string;
let mock: HubMock;
const scratch: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hg-pullcli-'));
  scratch.push(dir);
  return dir;
}

/** Runs the compiled CLI (`tsc -b` first) with a clean environment plus env. */
const hypergen = (args: string[], env: Record<string, string> = {}) => runCli(args, { PATH: process.env.PATH ?? '', HF_ENDPOINT: mock.url, ...env });

beforeAll(async () => {
  repoDir = makeRepoFolder();
  mock = await startHubMock({ repos: { [REPO]: repoDir }, token: TOKEN });
});

afterAll(async () => {
  await mock.close();
  rmSync(repoDir, { recursive: true, force: true });
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('hypergen pull (process)', () => {
  it('pulls a gated model with HF_TOKEN or --token-file, exit 0, JSON logs, and the token appears in no output', async () => {
    const viaEnv = await hypergen(['pull', `hf://${REPO}`, '--dir', tempDir()], { HF_TOKEN: TOKEN });
    expect(viaEnv.code).toBe(0);
    const messages = viaEnv.stdout.trim().split('\n').map((line) => JSON.parse(line).msg);
    expect(messages).toEqual(expect.arrayContaining(['pulling model', 'download started', 'model pulled']));
    const tokenFile = join(tempDir(), 'token');
    writeFileSync(tokenFile, TOKEN);
    const viaFile = await hypergen(['pull', `hf://${REPO}`, '--dir', tempDir(), '--token-file', tokenFile, '--log-level', 'trace']);
    expect(viaFile.code).toBe(0);
    for (const run of [viaEnv, viaFile]) expect(run.stdout + run.stderr).not.toContain(TOKEN);
    // The Hub saw it; the CDN never did.
    expect(mock.requests.some((r) => r.server === 'hub' && r.authorization)).toBe(true);
    expect(mock.requests.some((r) => r.server === 'cdn' && r.authorization)).toBe(false);
  });

  it('exit 1 with a one-line message naming what to set, never the token', async () => {
    const missing = await hypergen(['pull', `hf://${REPO}`, '--dir', tempDir()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^hypergen: hg-test\/gated-sd is gated or private \(HTTP 401 GatedRepo\): a Hugging Face token is needed: set HF_TOKEN[^\n]*\n$/);
    const wrong = 'hf_wrongSecret_12345678';
    const refused = await hypergen(['pull', `hf://${REPO}`, '--dir', tempDir()], { HF_TOKEN: wrong });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^hypergen: [^\n]*refused the token given \(HTTP 403 GatedRepo\)[^\n]*\n$/);
    expect(refused.stdout + refused.stderr).not.toContain(wrong);
    const notFound = await hypergen(['pull', `hf://${REPO}@v2`, '--dir', tempDir()], { HF_TOKEN: TOKEN });
    expect(notFound.code).toBe(1);
    expect(notFound.stderr).toBe(`hypergen: revision 'v2' not found in ${REPO} on ${mock.url} (HTTP 404 RevisionNotFound)\n`);
    expect(notFound.stdout + notFound.stderr).not.toContain(TOKEN);
  });

  it('exit 2 on usage errors', async () => {
    expect((await hypergen(['pull', `hf://${REPO}`])).code).toBe(2);
    const bad = await hypergen(['pull', 'hf://only-one-part', '--dir', tempDir()]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("'hf://only-one-part' is not a valid Hub URI: expected hf://org/name[@revision][/subfolder]");
    expect((await hypergen(['pull', `hf://${REPO}`, '--dir', tempDir(), '--concurrency', '0'])).code).toBe(2);
  });
});

const TINY_SD = join(REPO_ROOT, 'models/tiny-sd/model_index.json');

describe('hypergen serve hf://', () => {
  // The real engine needs the generated tiny pipeline (`make tiny-models`), which `make test` builds first.
  (existsSync(TINY_SD) ? it : it.skip)('pulls into the cache, then serves it', async () => {
    const server = await startServerProcess(['serve', `hf://${REPO}`, '--cache-dir', tempDir(), '--device', 'cpu'], {
      HF_ENDPOINT: mock.url,
      HF_TOKEN: TOKEN,
    });
    try {
      await server.ready();
      const models = (await (await fetch(`${server.url}/v1/models`)).json()) as { data: { id: string }[] };
      expect(models.data[0]!.id).toBe(`hf://${REPO}`);
      expect(server.output()).toContain('"msg":"model pulled"');
      expect(server.output()).not.toContain(TOKEN);
    } finally {
      await server.stop();
    }
  });
});
