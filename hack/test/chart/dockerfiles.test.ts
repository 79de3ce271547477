// The product images: pinned bases, non-root users, no secrets, the CUDA provider installed in the server image.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkDockerfile, isPinned, nodeRuntime, parseDockerfile } from '../../src/chart/dockerfile.js';
import { repoRoot } from '../../src/chart/render.js';

const read = (p: string) => readFileSync(join(repoRoot, p), 'utf8');

describe('Dockerfile policy check', () => {
  it('accepts only exact version tags or digests', () => {
    expect(isPinned('node:20.19.5-bookworm-slim')).toBe(true);
    expect(isPinned('nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04')).toBe(true);
    expect(isPinned(`node@sha256:${'a'.repeat(64)}`)).toBe(true);
    expect(isPinned('node:20')).toBe(false);
    expect(isPinned('node:20-alpine')).toBe(false);
    expect(isPinned('node:latest')).toBe(false);
    expect(isPinned('node')).toBe(false);
    expect(isPinned('localhost:5000/node')).toBe(false);
  });

  it("reads the last stage's Node flags and NODE_OPTIONS (what the operator bench runs with)", () => {
    const text = ['FROM node:20.19.5 AS build', 'ENV NODE_OPTIONS=--inspect', 'FROM node:20.19.5-alpine3.22', 'ENV NODE_ENV=production NODE_OPTIONS="--max-semi-space-size=2 --trace-gc"', 'ENTRYPOINT ["node", "--optimize-for-size", "/app/main.js"]'].join('\n');
    expect(nodeRuntime(text)).toEqual({ flags: ['--optimize-for-size'], nodeOptions: '--max-semi-space-size=2 --trace-gc' });
    expect(nodeRuntime('FROM node:20.19.5\nENTRYPOINT ["node", "main.js"]')).toEqual({ flags: [] });
    expect(() => nodeRuntime('FROM node:20.19.5\nENTRYPOINT ["hypergen"]')).toThrow('no exec-form ENTRYPOINT');
    expect(nodeRuntime(read('operator/Dockerfile')).flags).toContain('--optimize-for-size');
  });

  it('finds root users, floating bases and baked-in secrets', () => {
    const bad = [
      'FROM node:20 AS build',
      'ARG NPM_TOKEN=abc',
      'FROM node:20.19.5-alpine3.22',
      'ENV HF_TOKEN hf_123',
      'ENV A=1 API_KEY=sk-1',
      'COPY .env /app/.env',
      'COPY --chown=1:1 certs/tls.key /etc/tls.key',
      'USER root',
    ].join('\n');
    expect(checkDockerfile(bad)).toEqual([
      'line 1: base image node:20 is not pinned to a version or digest',
      'line 2: ARG NPM_TOKEN bakes a secret-like value into the image',
      'line 4: ENV HF_TOKEN bakes a secret-like value into the image',
      'line 5: ENV API_KEY bakes a secret-like value into the image',
      'line 6: COPY of .env would put credentials in the image',
      'line 7: COPY of certs/tls.key would put credentials in the image',
      'line 8: the final stage runs as root',
    ]);
    expect(checkDockerfile('FROM node:20.19.5-alpine3.22 AS a\nUSER 1000\nFROM a\nRUN true')).toEqual([
      'the final stage sets no USER: it would run as root',
    ]);
    expect(checkDockerfile('FROM node:20.19.5-alpine3.22\nARG HF_TOKEN\nUSER node')).toEqual([
      'line 3: USER node is not numeric, so runAsNonRoot cannot verify it',
    ]);
  });
});

describe.each(['server/Dockerfile', 'operator/Dockerfile'])('%s', (path) => {
  it('has pinned bases, a non-root numeric USER and no secrets', () => {
    expect(checkDockerfile(read(path))).toEqual([]);
  });
});

describe('server/Dockerfile', () => {
  const ins = parseDockerfile(read('server/Dockerfile'));
  const runs = ins.filter((i) => i.keyword === 'RUN').map((i) => i.args);

  it('runs on a CUDA 12 + cuDNN 9 runtime (what onnxruntime-node 1.30 CUDA provider needs) with Node 20', () => {
    const froms = ins.filter((i) => i.keyword === 'FROM').map((i) => i.args.split(/\s+/)[0]);
    expect(froms.at(-1)).toMatch(/^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-/);
    expect(froms.filter((f) => f!.startsWith('node:'))).not.toHaveLength(0);
    for (const f of froms.filter((x) => x!.startsWith('node:'))) expect(f).toMatch(/^node:20\./);
  });

  it('installs onnxruntime-node with its install script (the CUDA provider) and checks it is there', () => {
    expect(ins.map((i) => `${i.keyword} ${i.args}`).join('\n')).not.toMatch(/ONNXRUNTIME_NODE_INSTALL/);
    expect(runs.some((r) => /npm rebuild onnxruntime-node/.test(r) && /libonnxruntime_providers_cuda\.so/.test(r))).toBe(true);
  });

  it('has the Vulkan loader and Mesa drivers for --device webgpu, without the software rasterizer, and asks for the NVIDIA graphics capability', () => {
    const lastFrom = ins.map((i) => i.keyword).lastIndexOf('FROM');
    const runtime = ins.slice(lastFrom);
    const installs = runtime.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
    expect(installs).toMatch(/apt-get install -y --no-install-recommends [^&]*\blibvulkan1\b/);
    expect(installs).toMatch(/apt-get install [^&]*\bmesa-vulkan-drivers\b/);
    expect(installs).toMatch(/rm -f \/usr\/share\/vulkan\/icd\.d\/lvp_icd/);
    const env = runtime.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ');
    expect(env).toMatch(/NVIDIA_DRIVER_CAPABILITIES=\S*\bgraphics\b/);
    expect(env).toMatch(/NVIDIA_DRIVER_CAPABILITIES=\S*\bcompute\b/);
  });

  it('bakes no model in and starts `hypergen`', () => {
    const copies = ins.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    expect(copies.filter((c) => /\bmodels?\b/.test(c))).toEqual([]);
    expect(ins.filter((i) => i.keyword === 'ENTRYPOINT').at(-1)?.args).toBe('["hypergen"]');
  });
});

describe('.dockerignore', () => {
  it('keeps credentials, dependencies, build output and models out of the build context', () => {
    const lines = read('.dockerignore').split('\n');
    for (const p of ['**/.env', '**/.env.*', '**/*.pem', '**/*.key', '**/node_modules', '**/dist', 'models', '.git']) {
      expect(lines).toContain(p);
    }
  });
});
