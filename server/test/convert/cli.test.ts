// `hypergen convert` and `hypergen serve DIFFUSERS_FOLDER` as real processes: conversion, the no-op second run, and
// exit status 2 with a one-line message for what cannot be converted.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '../../../hack/src/server-process.js';
import { MARKER_FILE } from '../../src/convert/convert-pipeline.js';
import { serveOnce } from '../support/serve-once.js';

const SD15 = resolve('server/test/fixtures/parity/diffusers/sd15-tiny');

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'hypergen-convert-cli-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A copy of sd15-tiny with one file changed. */
function broken(name: string, change: (dir: string) => void): string {
  const dir = join(root, name);
  cpSync(SD15, dir, { recursive: true });
  change(dir);
  return dir;
}

const oneLine = (stderr: string): string => {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0] as string;
};

describe('hypergen convert', () => {
  it('converts a diffusers pipeline, and a second run converts nothing', async () => {
    const out = join(root, 'out');
    const first = await runCli(['convert', SD15, '--out', out, '--log-level', 'info']);
    expect(first.code).toBe(0);
    for (const f of ['model_index.json', 'text_encoder/model.onnx', 'unet/model.onnx', 'vae_decoder/model.onnx', 'vae_encoder/model.onnx', 'tokenizer/vocab.json', 'scheduler/scheduler_config.json', MARKER_FILE]) {
      expect(existsSync(join(out, f))).toBe(true);
    }
    const marker = readFileSync(join(out, MARKER_FILE), 'utf8');
    const second = await runCli(['convert', SD15, '--out', out, '--log-level', 'info']);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/conversion is current; nothing converted/);
    expect(readFileSync(join(out, MARKER_FILE), 'utf8')).toBe(marker);
  });

  it.each([
    ['a truncated safetensors file', 'truncated', (d: string) => {
      const f = join(d, 'unet/diffusion_pytorch_model.safetensors');
      writeFileSync(f, readFileSync(f).subarray(0, 5000));
    }, /unet\/diffusion_pytorch_model\.safetensors: not a valid safetensors file: .*truncated/],
    ['a corrupt safetensors header', 'corrupt', (d: string) => {
      const f = join(d, 'vae/diffusion_pytorch_model.safetensors');
      const bytes = readFileSync(f);
      bytes.write('#', 8); // the JSON header's opening brace
      writeFileSync(f, bytes);
    }, /vae\/diffusion_pytorch_model\.safetensors: not a valid safetensors file: header does not start/],
    ['a missing safetensors file', 'missing', (d: string) => rmSync(join(d, 'text_encoder/model.safetensors')), /text_encoder weights: .*text_encoder\/model\.safetensors is missing/],
    ['a 9-channel inpainting UNet', 'inpaint', (d: string) => {
      const f = join(d, 'unet/config.json');
      writeFileSync(f, readFileSync(f, 'utf8').replace('"in_channels": 4', '"in_channels": 9'));
    }, /a 9-channel inpainting UNet is not supported/],
    ['an SD3 pipeline', 'sd3', (d: string) => {
      const f = join(d, 'model_index.json');
      writeFileSync(f, readFileSync(f, 'utf8').replace('"StableDiffusionPipeline"', '"StableDiffusion3Pipeline"'));
    }, /StableDiffusion3Pipeline \(SD3\) is not supported/],
    ['an unknown block type', 'block', (d: string) => {
      const f = join(d, 'unet/config.json');
      writeFileSync(f, readFileSync(f, 'utf8').replace('"DownBlock2D"', '"SimpleCrossAttnDownBlock2D"'));
    }, /block type "SimpleCrossAttnDownBlock2D" is not supported/],
    ['an unknown activation', 'act', (d: string) => {
      const f = join(d, 'text_encoder/config.json');
      writeFileSync(f, readFileSync(f, 'utf8').replace('"quick_gelu"', '"gelu_new"'));
    }, /hidden_act "gelu_new" is not supported/],
  ])('exits 2 naming %s, writing nothing', async (_what, name, change, message) => {
    const out = join(root, `${name}-out`);
    const r = await runCli(['convert', broken(name, change), '--out', out]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });
});

describe('hypergen serve DIFFUSERS_FOLDER', () => {
  it('converts into --cache-dir once, serves it, and a second start converts nothing', async () => {
    const cache = join(root, 'cache');
    const start = async (): Promise<string> => {
      const served = await serveOnce(['serve', SD15, '--cache-dir', cache, '--device', 'cpu', '--dtype', 'fp32']);
      expect(served.status).toBe(200);
      return served.output;
    };
    expect(await start()).toMatch(/"msg":"converted"/);
    const second = await start();
    expect(second).toMatch(/conversion is current; nothing converted/);
    expect(second).not.toMatch(/"msg":"converting /);
  });
});
