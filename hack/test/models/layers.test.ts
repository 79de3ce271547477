/** @jest-environment ./hack/test/models/host-typed-arrays-environment.mjs */
// The graph building blocks compute what diffusers/transformers compute: checked in onnxruntime against plain JS.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { type Dim, Graph } from '@hypergen/server/convert/graph.js';
import { attention, groupNorm, nearest2x } from '@hypergen/server/convert/layers.js';
import { ensurePipeline } from '../../src/models/pipeline.js';
import { preset } from '../../src/models/presets.js';
import { sinusoidal } from '@hypergen/server/convert/unet.js';
import { WeightStore } from '../../src/models/weights.js';

let root: string;
let counter = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'hg-layers-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Run {
  readonly y: Float32Array;
  readonly dims: readonly number[];
  readonly weight: (name: string) => Float32Array;
}

/** Builds a one-input, one-output graph with inline weights, runs it, and exposes its weights by name. */
async function runGraph(x: Tensor, xDims: Dim[], build: (g: Graph, x: string) => string, yRank = xDims.length): Promise<Run> {
  const path = join(root, `g${counter++}.onnx`);
  const g = new Graph('test', new WeightStore({ seed: 'layers' }));
  g.output('y', build(g, g.input('x', 'float32', xDims)), 'float32', Array.from({ length: yRank }, (_, i) => `d${i}`));
  g.save(path, 'hypergen-test', 'test');
  const session = await InferenceSession.create(path);
  const out = (await session.run({ x })).y as Tensor;
  await session.release();
  const model = onnxProto.onnx.ModelProto.decode(readFileSync(path));
  const weight = (name: string): Float32Array => {
    const raw = model.graph?.initializer?.find((t) => t.name === name)?.rawData;
    if (raw == null) throw new Error(`no initializer ${name}`);
    return new Float32Array(Uint8Array.from(raw).buffer);
  };
  return { y: out.data as Float32Array, dims: out.dims, weight };
}

const seq = (n: number, f: (i: number) => number): Float32Array => Float32Array.from({ length: n }, (_, i) => f(i));

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)));
  expect(worst).toBeLessThan(tol);
}

describe('building blocks', () => {
  it('groupNorm normalises each group over channels and pixels, then applies the per-channel affine', async () => {
    const [N, C, H, W, G] = [2, 6, 3, 4, 3];
    const data = seq(N * C * H * W, (i) => Math.sin(i * 1.3) * 3 + (i % 7));
    const r = await runGraph(new Tensor('float32', data, [N, C, H, W]), ['n', C, 'h', 'w'], (g, x) => groupNorm(g, 'gn', x, C, G, 1e-5));
    const [w, b] = [r.weight('gn.weight'), r.weight('gn.bias')];
    const expected = new Float32Array(data.length);
    const per = (C / G) * H * W;
    for (let n = 0; n < N; n++) {
      for (let grp = 0; grp < G; grp++) {
        const start = (n * C + grp * (C / G)) * H * W;
        const slice = data.subarray(start, start + per);
        const mean = slice.reduce((a, v) => a + v, 0) / per;
        const variance = slice.reduce((a, v) => a + (v - mean) ** 2, 0) / per;
        slice.forEach((v, i) => {
          const c = grp * (C / G) + Math.floor(i / (H * W));
          expected[start + i] = ((v - mean) / Math.sqrt(variance + 1e-5)) * (w[c] as number) + (b[c] as number);
        });
      }
    }
    expectClose(r.y, expected);
  });

  it('attention is softmax(q kᵀ / sqrt(d) + mask) v per head, with the output projection', async () => {
    const [B, L, D, heads] = [2, 5, 8, 2];
    const hd = D / heads;
    const data = seq(B * L * D, (i) => Math.cos(i * 0.7));
    const mask = new Float32Array(L * L).map((_, i) => (i % L > Math.floor(i / L) ? -1e9 : 0));
    const names = { q: 'q', k: 'k', v: 'v', out: 'o' };
    const r = await runGraph(new Tensor('float32', data, [B, L, D]), ['b', 'l', D], (g, x) =>
      attention(g, 'a', x, x, { dim: D, contextDim: D, heads, headDim: hd, names, qkvBias: true, mask: g.floats([L, L], mask) }),
    );
    // x [L, D] @ W [D, out] + b
    const lin = (x: Float32Array, name: string, inF: number, outF: number): Float32Array => {
      const [w, bias] = [r.weight(`a.${name}.weight`), r.weight(`a.${name}.bias`)];
      const y = new Float32Array((x.length / inF) * outF);
      for (let row = 0; row < x.length / inF; row++) {
        for (let o = 0; o < outF; o++) {
          let s = bias[o] as number;
          for (let i = 0; i < inF; i++) s += (x[row * inF + i] as number) * (w[i * outF + o] as number);
          y[row * outF + o] = s;
        }
      }
      return y;
    };
    const expected: number[] = [];
    for (let b = 0; b < B; b++) {
      const xb = data.slice(b * L * D, (b + 1) * L * D);
      const [q, k, v] = [lin(xb, 'q', D, D), lin(xb, 'k', D, D), lin(xb, 'v', D, D)];
      const merged = new Float32Array(L * D);
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < L; i++) {
          const scores = Array.from({ length: L }, (_, j) => {
            let s = 0;
            for (let e = 0; e < hd; e++) s += (q[i * D + h * hd + e] as number) * (k[j * D + h * hd + e] as number);
            return s / Math.sqrt(hd) + (mask[i * L + j] as number);
          });
          const max = Math.max(...scores);
          const exps = scores.map((s) => Math.exp(s - max));
          const sum = exps.reduce((a, e) => a + e, 0);
          for (let e = 0; e < hd; e++) {
            merged[i * D + h * hd + e] = exps.reduce((a, p, j) => a + (p / sum) * (v[j * D + h * hd + e] as number), 0);
          }
        }
      }
      expected.push(...lin(merged, 'o', D, D));
    }
    expectClose(r.y, expected);
  });

  it.each([
    [true, 0],
    [false, 1],
  ])('sinusoidal timestep embedding matches diffusers (flip_sin_to_cos %s, freq_shift %i)', async (flip, shift) => {
    const t = Float32Array.from([0, 1, 261, 999.5]);
    const dim = 8;
    const half = dim / 2;
    const r = await runGraph(new Tensor('float32', t, [4]), ['n'], (g, x) => sinusoidal(g, x, dim, flip, shift), 2);
    expect(r.dims).toEqual([4, dim]);
    const expected = [...t].flatMap((ti) => {
      const args = Array.from({ length: half }, (_, i) => ti * Math.exp((-Math.log(10000) * i) / (half - shift)));
      const [sin, cos] = [args.map(Math.sin), args.map(Math.cos)];
      return flip ? [...cos, ...sin] : [...sin, ...cos];
    });
    expectClose(r.y, expected, 2e-4);
  });

  it('nearest 2x upsampling repeats every pixel into a 2x2 block', async () => {
    const r = await runGraph(new Tensor('float32', Float32Array.from([1, 2, 3, 4, 5, 6]), [1, 1, 2, 3]), [1, 1, 'h', 'w'], nearest2x);
    expect(r.dims).toEqual([1, 1, 4, 6]);
    expect([...r.y]).toEqual([1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6]);
  });
});

describe('CLIP text encoder', () => {
  const PAD_EOT = 49407;
  const row = (tokens: number[], pad: number): number[] => [49406, ...tokens, PAD_EOT, ...new Array<number>(75 - tokens.length).fill(pad)];

  it.each([
    ['tiny-sd', PAD_EOT],
    ['tiny-sdxl', 0], // SD 2.x / SDXL second tokenizer pad with "!" (id 0)
  ])('%s: is causal and pools at the first end-of-text token', async (name, pad) => {
    const dir = ensurePipeline(preset(name), join(root, name)).dir;
    const session = await InferenceSession.create(join(dir, 'text_encoder', 'model.onnx'));
    const type = (session.inputMetadata[0] as { type: string }).type;
    const rows = [row([320, 1125, 539, 320, 2368], pad), row([320, 1125, 539, 320, 1929], pad), row([2368], pad)];
    const flat = rows.flat();
    const ids = type === 'int32' ? new Tensor('int32', Int32Array.from(flat), [3, 77]) : new Tensor('int64', BigInt64Array.from(flat.map(BigInt)), [3, 77]);
    const out = await session.run({ input_ids: ids });
    await session.release();
    const hidden = out.last_hidden_state?.data as Float32Array;
    const pooled = out.pooler_output?.data as Float32Array;
    const d = 32;
    const token = (b: number, i: number): Float32Array => hidden.slice((b * 77 + i) * d, (b * 77 + i + 1) * d);
    // Rows 0 and 1 differ only at position 5: positions 0..4 cannot see it, position 5 onwards do.
    for (let i = 0; i < 5; i++) expectClose(token(0, i), token(1, i), 1e-5);
    expect(Math.max(...token(0, 5).map((v, j) => Math.abs(v - (token(1, 5)[j] as number))))).toBeGreaterThan(1e-3);
    // pooler_output is the hidden state at the first end-of-text token (position 6, 6 and 2).
    [6, 6, 2].forEach((eot, b) => expectClose(pooled.slice(b * d, (b + 1) * d), token(b, eot), 1e-6));
  });
});
