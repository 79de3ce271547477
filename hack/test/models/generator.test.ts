/** @jest-environment ./hack/test/models/host-typed-arrays-environment.mjs */
// The generator itself: determinism, external data, architecture sizes, stamps and atomic replacement, the CLI.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import onnxProto from 'onnx-proto';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { unetConfig } from '@hypergen/server/convert/configs.js';
import { float, Graph } from '@hypergen/server/convert/graph.js';
import { linear } from '@hypergen/server/convert/layers.js';
import { countParameters, ensurePipeline, STAMP_FILE } from '../../src/models/pipeline.js';
import { preset } from '../../src/models/presets.js';
import { buildUNet } from '@hypergen/server/convert/unet.js';
import { WeightStore } from '../../src/models/weights.js';

const { onnx } = onnxProto;
const CLI = resolve('hack/dist/models/cli.js');

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'hg-gen-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Relative path -> bytes of every file under dir. */
function files(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const f of readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()) {
    if (statSync(join(dir, f)).isFile()) out.set(f, readFileSync(join(dir, f)));
  }
  return out;
}

describe('determinism', () => {
  it('writes identical bytes for the same seed and different weights for another seed', () => {
    const p = preset('tiny-sdxl');
    const a = files(ensurePipeline(p, join(root, 'det-a'), 7).dir);
    const b = files(ensurePipeline(p, join(root, 'det-b'), 7).dir);
    const c = files(ensurePipeline(p, join(root, 'det-c'), 8).dir);
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const [f, bytes] of a) expect([f, bytes.equals(b.get(f) as Buffer)]).toEqual([f, true]);
    for (const f of ['unet/model.onnx_data', 'text_encoder_2/model.onnx_data', 'vae_decoder/model.onnx_data']) {
      expect(a.get(f)?.length).toBe(c.get(f)?.length);
      expect(a.get(f)?.equals(c.get(f) as Buffer)).toBe(false);
    }
    expect(a.get('unet/config.json')?.equals(c.get('unet/config.json') as Buffer)).toBe(true);
  });
});

describe('external data', () => {
  it('records location/offset/length that tile model.onnx_data exactly', () => {
    const dir = ensurePipeline(preset('tiny-sdxl'), join(root, 'ext')).dir;
    for (const component of ['text_encoder', 'text_encoder_2', 'unet', 'vae_decoder']) {
      const model = onnx.ModelProto.decode(readFileSync(join(dir, component, 'model.onnx')));
      const external = (model.graph?.initializer ?? []).filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
      expect(external.length).toBeGreaterThan(0);
      let next = 0;
      for (const t of external) {
        const kv = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
        expect(kv.location).toBe('model.onnx_data');
        expect(Number(kv.offset)).toBe(next);
        expect(Number(kv.length)).toBe(4 * (t.dims ?? []).reduce((x: number, d) => x * Number(d), 1));
        next += Number(kv.length);
      }
      expect(statSync(join(dir, component, 'model.onnx_data')).size).toBe(next);
    }
  });

  it('round-trips through onnxruntime: a graph with external weights computes what the inline one does', async () => {
    const dir = join(root, 'roundtrip');
    mkdirSync(dir, { recursive: true });
    const build = (path: string, external: boolean): void => {
      const store = new WeightStore({
        seed: 'roundtrip',
        ...(external ? { externalPath: join(dir, 'ext.onnx_data'), externalLocation: 'ext.onnx_data', externalMinBytes: 0 } : {}),
      });
      const g = new Graph('roundtrip', store);
      const x = g.input('x', 'float32', ['n', 16]);
      const y = g.op('LayerNormalization', [linear(g, 'fc', x, 16, 24), g.param('ln.weight', [24], { center: 1, std: 0.1 })], {
        axis: -1,
        epsilon: float(1e-5),
      });
      g.output('y', y, 'float32', ['n', 24]);
      g.save(path, 'hypergen-test', 'test');
      store.close();
    };
    build(join(dir, 'inline.onnx'), false);
    build(join(dir, 'ext.onnx'), true);
    expect(statSync(join(dir, 'ext.onnx_data')).size).toBe(4 * (16 * 24 + 24 + 24));
    const input = new Tensor('float32', Float32Array.from({ length: 3 * 16 }, (_, i) => Math.sin(i)), [3, 16]);
    const run = async (file: string): Promise<Float32Array> => {
      const s = await InferenceSession.create(join(dir, file));
      const out = (await s.run({ x: input })).y?.data as Float32Array;
      await s.release();
      return out;
    };
    const inline = await run('inline.onnx');
    expect(inline.some((v) => v !== 0)).toBe(true);
    expect(await run('ext.onnx')).toEqual(inline);
  });
});

describe('architectures', () => {
  // Parameter counts of the real models as diffusers/transformers report them (num_parameters()).
  it('sd15-shape has exactly the SD 1.5 parameter counts', () => {
    expect(countParameters(preset('sd15-shape'))).toEqual({
      text_encoder: 123_060_480, // CLIP ViT-L/14 text model
      unet: 859_520_964,
      vae_decoder: 49_490_199, // AutoencoderKL decoder + post_quant_conv
    });
  });

  it('sdxl-shape has exactly the SDXL base parameter counts', () => {
    expect(countParameters(preset('sdxl-shape'))).toEqual({
      text_encoder: 123_060_480,
      text_encoder_2: 694_659_840, // OpenCLIP bigG CLIPTextModelWithProjection
      unet: 2_567_463_684,
      vae_decoder: 49_490_199,
    });
  });

  it('rejects configs it cannot build with a clear message', () => {
    const g = (): Graph => new Graph('bad', new WeightStore({ seed: '', countOnly: true }));
    const base = { block_out_channels: [32, 64], cross_attention_dim: 32, sample_size: 8 };
    const timestep = { elem: 'int64', scalar: false } as const;
    expect(() =>
      buildUNet(g(), unetConfig({ ...base, down_block_types: ['DownBlock2D'], up_block_types: ['UpBlock2D'] }), timestep),
    ).toThrow(/2 block_out_channels but 1 down/);
    expect(() =>
      buildUNet(
        g(),
        unetConfig({ ...base, norm_num_groups: 5, down_block_types: ['DownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'UpBlock2D'] }),
        timestep,
      ),
    ).toThrow(/32 channels do not split into 5 groups/);
  });
});

describe('exporter flavours', () => {
  it('a scalar float32 timestep broadcasts to the batch exactly like an int64 [batch] one', async () => {
    const scalar = preset('tiny-sdxl');
    const perSample = { ...scalar, name: 'tiny-sdxl-batch-timestep', timestep: { elem: 'int64', scalar: false } } as const;
    const outputs: Float32Array[] = [];
    for (const p of [scalar, perSample]) {
      const dir = ensurePipeline(p, join(root, p.name)).dir;
      const session = await InferenceSession.create(join(dir, 'unet', 'model.onnx'));
      const n = (k: number, f: (i: number) => number): Float32Array => Float32Array.from({ length: k }, (_, i) => f(i));
      const out = await session.run({
        sample: new Tensor('float32', n(2 * 4 * 8 * 8, Math.sin), [2, 4, 8, 8]),
        timestep: p.timestep.scalar ? new Tensor('float32', Float32Array.from([481]), []) : new Tensor('int64', BigInt64Array.from([481n, 481n]), [2]),
        encoder_hidden_states: new Tensor('float32', n(2 * 77 * 64, Math.cos), [2, 77, 64]),
        text_embeds: new Tensor('float32', n(2 * 32, (i) => i / 64), [2, 32]),
        time_ids: new Tensor('float32', Float32Array.from([256, 256, 0, 0, 256, 256, 512, 512, 0, 0, 512, 512]), [2, 6]),
      });
      await session.release();
      outputs.push(out.out_sample?.data as Float32Array);
    }
    const [a, b] = outputs as [Float32Array, Float32Array];
    expect(a.every(Number.isFinite)).toBe(true);
    expect(Math.max(...a.map((v, i) => Math.abs(v - (b[i] as number))))).toBeLessThan(1e-5);
  });
});

describe('stamps and atomic replacement', () => {
  it('leaves a current folder untouched and regenerates a stale, forced or half-written one', () => {
    const p = preset('tiny-sd');
    const dir = join(root, 'stamp', 'tiny-sd');
    expect(ensurePipeline(p, dir).generated).toBe(true);
    const unet = join(dir, 'unet', 'model.onnx_data');
    const mtime = statSync(unet).mtimeMs;
    const again = ensurePipeline(p, dir);
    expect(again.generated).toBe(false);
    expect(again.components.map((c) => c.component)).toEqual(['text_encoder', 'unet', 'vae_decoder']);
    expect(statSync(unet).mtimeMs).toBe(mtime);

    const stamp = JSON.parse(readFileSync(join(dir, STAMP_FILE), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, STAMP_FILE), JSON.stringify({ ...stamp, fingerprint: 'older generator' }));
    expect(ensurePipeline(p, dir).generated).toBe(true);
    expect(ensurePipeline(p, dir, 0, true).generated).toBe(true);
    expect(ensurePipeline(p, dir, 1).generated).toBe(true); // another seed is another model

    writeFileSync(join(dir, 'stray-file'), 'x');
    expect(ensurePipeline(p, dir, 2).generated).toBe(true);
    expect(existsSync(join(dir, 'stray-file'))).toBe(false); // the folder is replaced whole, never patched
  });

  it('refuses to replace a folder it did not write, and fills an empty one', () => {
    const foreign = join(root, 'foreign');
    mkdirSync(join(foreign, 'unet'), { recursive: true });
    writeFileSync(join(foreign, 'model_index.json'), '{}');
    expect(() => ensurePipeline(preset('tiny-sd'), foreign)).toThrow(/is not a generated pipeline .*refusing to replace it/);
    expect(readFileSync(join(foreign, 'model_index.json'), 'utf8')).toBe('{}');
    const empty = join(root, 'empty');
    mkdirSync(empty);
    expect(ensurePipeline(preset('tiny-sd'), empty).generated).toBe(true);
  });

  it('cleans temp folders that dead runs left behind, and leaves none of its own', () => {
    const parent = join(root, 'leftovers');
    const dead = join(parent, '.tiny-sd.tmp-999999999');
    mkdirSync(join(dead, 'unet'), { recursive: true });
    ensurePipeline(preset('tiny-sd'), join(parent, 'tiny-sd'));
    expect(readdirSync(parent)).toEqual(['tiny-sd']);
  });
});

describe('cli', () => {
  const cli = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('writes all tiny presets, then finds them current', () => {
    const out = join(root, 'cli');
    const first = cli('tiny-models', '--out', out);
    expect(first.status).toBe(0);
    for (const name of ['tiny-sd', 'tiny-sd-v', 'tiny-sdxl', 'tiny-sdxl-turbo']) {
      expect(first.stdout).toMatch(new RegExp(`^${name}: generated in [\\d.]+ s -> `, 'm'));
      expect(existsSync(join(out, name, 'unet', 'model.onnx'))).toBe(true);
    }
    expect(first.stdout).toMatch(/unet +1\.\d+ M params, model\.onnx [\d.]+ MB \+ model\.onnx_data [\d.]+ MB/);
    const second = cli('tiny-models', '--out', out);
    expect(second.status).toBe(0);
    expect(second.stdout.match(/already current/g)).toHaveLength(4);
  });

  it('generates one preset with a seed and reports parameter counts', () => {
    const r = cli('generate', '--preset', 'tiny-sd-v', '--out', join(root, 'cli-one'), '--seed', '3');
    expect(r.status).toBe(0);
    expect(JSON.parse(readFileSync(join(root, 'cli-one', STAMP_FILE), 'utf8'))).toMatchObject({ preset: 'tiny-sd-v', seed: 3 });
    expect(cli('params', '--preset', 'sd15-shape').stdout).toMatch(/^unet +859520964 /m);
  });

  it('explains bad usage with exit code 2 and bad values with exit code 1', () => {
    for (const args of [[], ['tiny-models'], ['bogus'], ['generate', '--preset', 'tiny-sd'], ['tiny-models', '--out', 'x', '--seed', '-1'], ['tiny-models', '--nope']]) {
      const r = cli(...args);
      expect([args, r.status]).toEqual([args, 2]);
      expect(r.stderr).toMatch(/^error: .*\n[\s\S]*usage:/);
    }
    const unknown = cli('generate', '--preset', 'sd99', '--out', join(root, 'never'));
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/unknown preset "sd99" \(known: tiny-sd, .*sdxl-shape\)/);
    expect(existsSync(join(root, 'never'))).toBe(false);
  });
});
