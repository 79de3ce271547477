/** @jest-environment ./hack/test/models/host-typed-arrays-environment.mjs */
// An ONNX export with unfused attention (sd15-tiny converted with --attention plain: the form torch.onnx and Optimum
// write) rewritten by fuseExport / `hypergen convert EXPORT --out DIR` / `hypergen serve EXPORT`: UNet and VAE
// attention become MultiHeadAttention with the same outputs, CLIP's masked attention stays, the marker makes a second
// run a no-op, the served image equals the plain export's, and plain exports of the parity pipelines, served fused,
// reproduce diffusers' own images (max 3/255, as server/test/parity/diffusers-images.test.ts).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import onnxProto from 'onnx-proto';
import pino from 'pino';
import sharp from 'sharp';
import { runCli, startServerProcess } from '../../../hack/src/server-process.js';
import { convertLogged } from '../../src/convert/command.js';
import { convertPipeline, readMarker } from '../../src/convert/convert-pipeline.js';
import { ConvertError } from '../../src/convert/errors.js';
import { countOps } from '../../src/convert/fuse-attention.js';
import { fuseExport } from '../../src/convert/fuse-export.js';
import { fusedDir } from '../../src/pull/index.js';
import { recordedDecode as decode, recordedUnetCall as unet0 } from '../support/recorded-case.js';
import { serveOnce } from '../support/serve-once.js';

const FIXTURES = resolve('server/test/fixtures/parity');
const SOURCE = join(FIXTURES, 'diffusers', 'sd15-tiny');
const MHA = 'com.microsoft.MultiHeadAttention';

let root: string;
let plain: string;
let converted: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'hypergen-fuse-export-'));
  plain = join(root, 'plain');
  converted = join(root, 'converted-fused');
  convertPipeline(SOURCE, plain, { dtype: 'fp32', attention: 'plain' });
  convertPipeline(SOURCE, converted, { dtype: 'fp32', attention: 'fused' });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ops = (dir: string, component: string): Map<string, number> =>
  countOps(onnxProto.onnx.ModelProto.decode(readFileSync(join(dir, component, 'model.onnx'))));

function expectClose(actual: Float32Array, expected: Float32Array, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  expect(scale).toBeGreaterThan(0);
  expect(diff).toBeLessThanOrEqual(tolerance * (1 + scale));
}

describe('fuseExport on a plain-attention ONNX export (sd15-tiny, fp32)', () => {
  let out: string;
  beforeAll(() => {
    out = join(root, 'fused');
    const report = fuseExport(plain, out);
    expect(report.converted).toBe(true);
    expect(report.copiedBytes).toBe(0); // one file system: everything hard-linked
  });

  it('fuses every UNet and VAE attention, leaves CLIP masked attention, and records it in the marker', () => {
    const plainSoftmax = ops(plain, 'unet').get('Softmax') ?? 0;
    expect(plainSoftmax).toBeGreaterThan(0);
    expect(ops(out, 'unet').get(MHA)).toBe(plainSoftmax);
    expect(ops(out, 'unet').get('Softmax')).toBeUndefined();
    for (const vae of ['vae_decoder', 'vae_encoder']) {
      expect(ops(out, vae).get(MHA)).toBe(1);
      expect(ops(out, vae).get('Softmax')).toBeUndefined();
    }
    expect(ops(out, 'text_encoder').get('Softmax')).toBe(ops(plain, 'text_encoder').get('Softmax'));
    expect(ops(out, 'text_encoder').get(MHA)).toBeUndefined();
    const marker = readMarker(out) as unknown as { kind: string; options: { attention: string }; components: { component: string; fused: number; unmatched: number }[] };
    expect(marker.kind).toBe('onnx-export');
    expect(marker.options.attention).toBe('fused');
    expect(marker.components.map((c) => [c.component, c.fused, c.unmatched])).toEqual([
      ['unet', plainSoftmax, 0],
      ['vae_decoder', 1, 0],
      ['vae_encoder', 1, 0],
    ]);
  });

  it('keeps external data, configs, tokenizer and scheduler as they are (hard links on one file system)', () => {
    for (const f of ['unet/model.onnx_data', 'text_encoder/model.onnx', 'tokenizer/vocab.json', 'scheduler/scheduler_config.json', 'model_index.json', 'unet/config.json']) {
      expect(statSync(join(out, f)).ino).toBe(statSync(join(plain, f)).ino);
    }
  });

  it('computes what the plain export and the converter’s own fused graphs compute (float32 tolerance)', async () => {
    const [u, d] = [await unet0(out), await decode(out)];
    expectClose(u, await unet0(plain), 1e-4);
    expectClose(d, await decode(plain), 1e-4);
    expectClose(u, await unet0(converted), 1e-4);
    expectClose(d, await decode(converted), 1e-4);
  });

  it('a second run rewrites nothing; a fused folder has nothing left to fuse', () => {
    const before = statSync(join(out, 'unet', 'model.onnx')).mtimeMs;
    const again = fuseExport(plain, out);
    expect(again.converted).toBe(false);
    expect(statSync(join(out, 'unet', 'model.onnx')).mtimeMs).toBe(before);
    const nothing = fuseExport(converted, join(root, 'unused'), { onlyIfFused: true });
    expect(nothing).toMatchObject({ converted: false, out: converted });
    expect(nothing.components.every((c) => c.fused === 0)).toBe(true);
    // Remembered by a marker alone: the next start reads no graph and still loads the export as it is.
    expect(readMarker(join(root, 'unused'))).toMatchObject({ nothingToFuse: true });
    const remembered = fuseExport(converted, join(root, 'unused'), { onlyIfFused: true });
    expect(remembered).toMatchObject({ converted: false, out: converted, fingerprint: nothing.fingerprint });
  });

  it('refuses --attention plain for an export and an output it did not write', () => {
    const logger = pino({ level: 'silent' });
    expect(() => convertLogged(plain, join(root, 'x'), 'fp32', logger, 'plain')).toThrow(ConvertError);
    const foreign = join(root, 'foreign');
    cpSync(join(plain, 'scheduler'), foreign, { recursive: true });
    expect(() => fuseExport(plain, foreign)).toThrow(/not written by hypergen convert/);
  });
});

describe('upcast_attention in a float16 export', () => {
  it('fuses as float32 MultiHeadAttention between casts, within float16 tolerance of the plain export', async () => {
    const source = join(root, 'upcast-src');
    cpSync(SOURCE, source, { recursive: true });
    const configPath = join(source, 'unet', 'config.json');
    writeFileSync(configPath, JSON.stringify({ ...(JSON.parse(readFileSync(configPath, 'utf8')) as object), upcast_attention: true }));
    const half = join(root, 'upcast-plain');
    convertPipeline(source, half, { dtype: 'fp16', attention: 'plain' });
    const report = fuseExport(half, join(root, 'upcast-fused'));
    const unet = report.components.find((c) => c.component === 'unet')!;
    expect(unet.fused).toBe(ops(half, 'unet').get('Softmax'));
    expect(unet.upcast).toBe(unet.fused);
    expectClose(await unet0(join(root, 'upcast-fused')), await unet0(half), 3e-3);
  });
});

async function rgb(png: Buffer): Promise<Buffer> {
  return sharp(png).removeAlpha().raw().toBuffer();
}

describe('hypergen convert EXPORT and hypergen serve EXPORT', () => {
  it('convert writes the fused copy once', async () => {
    const out = join(root, 'cli-out');
    const first = await runCli(['convert', plain, '--out', out]);
    expect(first.code).toBe(0);
    expect(readMarker(out)?.options.attention).toBe('fused');
    const second = await runCli(['convert', plain, '--out', out]);
    expect(second.code).toBe(0);
    expect(second.stdout + second.stderr).toMatch(/fused copy is current/);
    const refused = await runCli(['convert', plain, '--out', join(root, 'cli-plain'), '--attention', 'plain']);
    expect(refused.code).toBe(2);
  });

  it('serve fuses into --cache-dir once; the image equals the plain export served with --attention plain', async () => {
    const cache = join(root, 'cache');
    const args = ['serve', plain, '--cache-dir', cache, '--device', 'cpu', '--dtype', 'fp32'];
    const first = await serveOnce(args);
    expect(first.status).toBe(200);
    expect(first.output).toMatch(/"msg":"attention fused"/);
    const second = await serveOnce(args);
    expect(second.output).toMatch(/fused copy is current/);
    const asIs = await serveOnce([...args, '--attention', 'plain']);
    expect(asIs.output).not.toMatch(/attention fused|fused copy/);
    const [a, b, p] = await Promise.all([rgb(first.image!), rgb(second.image!), rgb(asIs.image!)]);
    expect(b.equals(a)).toBe(true);
    let max = 0;
    for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - p[i]!));
    expect(max).toBeLessThanOrEqual(1);
  }, 120_000);
});

interface Case {
  model: string;
  id: string;
  body: Record<string, unknown> & { n: number };
}

describe.each(['sd15-tiny', 'sdxl-tiny'])('a plain export of %s, served with its attention fused, reproduces diffusers images', (model) => {
  it('every case of cases.json within 3/255', async () => {
    const exported = join(root, `${model}-export`);
    convertPipeline(join(FIXTURES, 'diffusers', model), exported, { dtype: 'fp32', attention: 'plain' });
    const cache = join(root, `${model}-cache`);
    const server = await startServerProcess(['serve', exported, '--model-id', model, '--device', 'cpu', '--dtype', 'fp32', '--cache-dir', cache]);
    try {
      await server.ready(120_000);
      expect(server.output()).toMatch(/"msg":"attention fused"/);
      const marker = readMarker(fusedDir(cache, exported)) as unknown as { components: { component: string; fused: number; unmatched: number }[] };
      expect(marker.components.map((c) => [c.component, c.fused > 0, c.unmatched])).toEqual([
        ['unet', true, 0],
        ['vae_decoder', true, 0],
        ['vae_encoder', true, 0],
      ]);
      const cases = (JSON.parse(readFileSync(join(FIXTURES, 'cases.json'), 'utf8')) as { cases: Case[] }).cases.filter((c) => c.model === model);
      expect(cases.length).toBeGreaterThan(0);
      for (const c of cases) {
        const res = await fetch(`${server.url}/v1/images/generations`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(c.body) });
        expect(res.status).toBe(200);
        const images = ((await res.json()) as { data: { b64_json: string }[] }).data;
        expect(images).toHaveLength(c.body.n);
        for (const [i, image] of images.entries()) {
          const [ours, reference] = await Promise.all([rgb(Buffer.from(image.b64_json, 'base64')), rgb(readFileSync(join(FIXTURES, 'refs', 'torch-seed', model, `${c.id}_${i}.png`)))]);
          expect(ours.length).toBe(reference.length);
          let max = 0;
          for (let j = 0; j < ours.length; j++) max = Math.max(max, Math.abs(ours[j]! - reference[j]!));
          expect(max).toBeLessThanOrEqual(3);
        }
      }
    } finally {
      await server.stop('SIGKILL');
    }
  }, 240_000);
});
