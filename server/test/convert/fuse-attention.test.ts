/** @jest-environment ./hack/test/models/host-typed-arrays-environment.mjs */
// fuseAttention on hand-built graphs of both export forms (torch 2 SDPA / AttnProcessor2_0 with computed shapes, and
// the older AttnProcessor's [B*H, L, D] batches with baddbmm's scale), which it fuses into one MultiHeadAttention with
// the graph's own num_heads and scale and the same outputs; masked and non-equivalent variants are left and counted.
import { describe, expect, it } from '@jest/globals';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { countOps, fuseAttention } from '../../src/convert/fuse-attention.js';

const { onnx } = onnxProto;
type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
const MHA = 'com.microsoft.MultiHeadAttention';

/** A tiny graph builder for exporter-shaped graphs (every value a fresh name). */
class G {
  readonly nodes: INodeProto[] = [];
  readonly inits: ITensorProto[] = [];
  private n = 0;
  private seed = 7;

  op(opType: string, input: string[], attrs: Record<string, number | number[]> = {}): string {
    const out = `v${this.n++}`;
    const attribute = Object.entries(attrs).map(([name, v]) =>
      Array.isArray(v) ? { name, type: onnx.AttributeProto.AttributeType.INTS, ints: v } : { name, type: onnx.AttributeProto.AttributeType.INT, i: v },
    );
    this.nodes.push({ opType, name: `${opType}_${this.n}`, input, output: [out], attribute });
    return out;
  }

  ints(values: (number | bigint)[], dims: number[] = [values.length]): string {
    const name = `c${this.n++}`;
    this.inits.push({ name, dims, dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(BigInt64Array.from(values, (v) => BigInt(v)).buffer) });
    return name;
  }

  floats(values: number[], dims: number[]): string {
    const name = `w${this.n++}`;
    this.inits.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(Float32Array.from(values).buffer) });
    return name;
  }

  random(dims: number[], gain = 0.5): string {
    const count = dims.reduce((a, b) => a * b, 1);
    return this.floats(
      Array.from({ length: count }, () => {
        this.seed = (this.seed * 1103515245 + 12345) % 2 ** 31;
        return (this.seed / 2 ** 31 - 0.5) * 2 * gain;
      }),
      dims,
    );
  }

  linear(x: string, cin: number, cout: number): string {
    return this.op('Add', [this.op('MatMul', [x, this.random([cin, cout])]), this.random([cout], 0.1)]);
  }

  /** `batch_size = t.shape[i]` as torch.onnx exports it: Gather(Shape(t), i) then Unsqueeze for a Concat piece. */
  dimOf(t: string, i: number): string {
    return this.op('Unsqueeze', [this.op('Gather', [this.op('Shape', [t]), this.ints([i], [])], { axis: 0 }), this.ints([0])]);
  }

  model(inputs: [string, (number | string)[]][], output: string): Uint8Array {
    const info = (name: string, dims: (number | string)[]) => ({
      name,
      type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
    });
    return onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: { name: 'g', node: this.nodes, initializer: this.inits, input: inputs.map(([n, d]) => info(n, d)), output: [info(output, ['b', 'l', 'c'])] },
    }).finish();
  }
}

interface SdpaOptions {
  readonly heads: number;
  readonly headDim: number;
  /**
   * Where the scale is applied (q only, sqrt on q and k^T, or on the scores) and whether as Div; 'torch' is torch's
   * SDPA symbolic: sqrt of a scale computed from q's shape at run time on q and on k^T.
   */
  readonly scaleAt: 'q' | 'both' | 'scores-div' | 'torch';
  /** k split straight to [B, H, D, L] (one Transpose) or via [B, H, L, D] and a second Transpose. */
  readonly kDirect: boolean;
  readonly mask?: string;
  /** k's head split target; default [batch, -1, H, D]. */
  readonly kSplit?: (g: G, batch: string) => string;
  readonly qSplit?: (g: G, batch: string) => string;
}

/** diffusers AttnProcessor2_0 (F.scaled_dot_product_attention) as torch.onnx exports it, with computed shapes. */
function sdpa(g: G, x: string, ctx: string, width: number, ctxWidth: number, o: SdpaOptions): string {
  const inner = o.heads * o.headDim;
  const batch = g.dimOf(ctx, 0);
  const split = g.op('Concat', [batch, g.ints([-1]), g.ints([o.heads]), g.ints([o.headDim])], { axis: 0 });
  const q4 = g.op('Reshape', [g.linear(x, width, inner), o.qSplit?.(g, batch) ?? split]);
  let q = g.op('Transpose', [q4], { perm: [0, 2, 1, 3] });
  const k4 = g.op('Reshape', [g.linear(ctx, ctxWidth, inner), o.kSplit?.(g, batch) ?? split]);
  let k = o.kDirect ? g.op('Transpose', [k4], { perm: [0, 2, 3, 1] }) : g.op('Transpose', [g.op('Transpose', [k4], { perm: [0, 2, 1, 3] })], { perm: [0, 1, 3, 2] });
  const v = g.op('Transpose', [g.op('Reshape', [g.linear(ctx, ctxWidth, inner), split])], { perm: [0, 2, 1, 3] });
  const scale = 1 / Math.sqrt(o.headDim);
  if (o.scaleAt === 'q') q = g.op('Mul', [q, g.floats([scale], [])]);
  if (o.scaleAt === 'both') {
    q = g.op('Mul', [q, g.floats([Math.sqrt(scale)], [])]);
    k = g.op('Mul', [k, g.floats([Math.sqrt(scale)], [])]);
  }
  if (o.scaleAt === 'torch') {
    // _attention_scale (torch.onnx symbolic_opset14): 1 / sqrt(float(q.shape[-1])), then Mul by its Sqrt on q and k^T.
    const last = g.op('Cast', [g.op('Slice', [g.op('Shape', [q]), g.ints([-1]), g.ints([2n ** 63n - 1n])])], { to: onnx.TensorProto.DataType.FLOAT });
    const root = g.op('Sqrt', [g.op('Cast', [g.op('Div', [g.floats([1], [1]), g.op('Sqrt', [last])])], { to: onnx.TensorProto.DataType.FLOAT })]);
    q = g.op('Mul', [q, root]);
    k = g.op('Mul', [k, root]);
  }
  let scores = g.op('MatMul', [q, k]);
  if (o.scaleAt === 'scores-div') scores = g.op('Div', [scores, g.floats([Math.sqrt(o.headDim)], [])]);
  if (o.mask !== undefined) scores = g.op('Add', [scores, o.mask]);
  const probs = g.op('Softmax', [scores], { axis: -1 });
  const merged = g.op('Transpose', [g.op('MatMul', [probs, v])], { perm: [0, 2, 1, 3] });
  return g.op('Reshape', [merged, g.op('Concat', [batch, g.ints([-1]), g.ints([inner])], { axis: 0 })]);
}

/** `a // b` of ints as torch.onnx's floor_divide writes it: Div, minus 1 where the signs differ and it is not exact. */
function floorDivide(g: G, a: string, b: string): string {
  const div = g.op('Div', [a, b]);
  const zero = g.ints([0], []);
  const negative = g.op('Xor', [g.op('Less', [a, zero]), g.op('Less', [b, zero])]);
  const inexact = g.op('Not', [g.op('Equal', [g.op('Sub', [a, g.op('Mul', [div, b])]), zero])]);
  const fixup = g.op('Mul', [g.op('Cast', [g.op('And', [negative, inexact])], { to: onnx.TensorProto.DataType.INT64 }), g.ints([1], [])]);
  return g.op('Sub', [div, fixup]);
}

/** diffusers' older AttnProcessor: head_to_batch_dim, baddbmm(empty, q, k^T, beta=0, alpha=scale), bmm, batch_to_head_dim. */
function bmmAttention(g: G, x: string, ctx: string, width: number, ctxWidth: number, heads: number, headDim: number, empty: 'constant' | 'torch' | 'broadcast' = 'constant'): string {
  const inner = heads * headDim;
  const headToBatch = (t: string, transposeK: boolean): string => {
    const [b, l, d] = [g.dimOf(t, 0), g.dimOf(t, 1), g.dimOf(t, 2)];
    const h = g.ints([heads]);
    const dh = empty === 'torch' ? floorDivide(g, d, h) : g.op('Div', [d, h]);
    const t4 = g.op('Transpose', [g.op('Reshape', [t, g.op('Concat', [b, l, h, dh], { axis: 0 })])], { perm: [0, 2, 1, 3] });
    const t3 = g.op('Reshape', [t4, g.op('Concat', [g.op('Mul', [b, h]), l, dh], { axis: 0 })]);
    return transposeK ? g.op('Transpose', [t3], { perm: [0, 2, 1] }) : t3;
  };
  const q = headToBatch(g.linear(x, width, inner), false);
  const kt = headToBatch(g.linear(ctx, ctxWidth, inner), true);
  const v = headToBatch(g.linear(ctx, ctxWidth, inner), false);
  // baddbmm with beta 0: alpha * (q @ k^T) + 0 * empty; torch.onnx writes empty as ConstantOfShape of
  // [q.shape[0], q.shape[1], k.shape[1]] (here k^T.shape[2]) and beta as a Cast constant.
  const zeros =
    empty === 'constant'
      ? g.floats([0], [1, 1, 1])
      : g.op('Mul', [
          g.op('ConstantOfShape', [empty === 'torch' ? g.op('Concat', [g.dimOf(q, 0), g.dimOf(q, 1), g.dimOf(kt, 2)], { axis: 0 }) : g.ints([B * heads * 2, 1, 1])]),
          g.op('Cast', [g.floats([0], [])], { to: onnx.TensorProto.DataType.FLOAT }),
        ]);
  const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, kt]), g.floats([1 / Math.sqrt(headDim)], [])]), zeros]);
  const out = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v]);
  const [bh, l, d] = [g.dimOf(out, 0), g.dimOf(out, 1), g.dimOf(out, 2)];
  const h = g.ints([heads]);
  const b = g.op('Div', [bh, h]);
  const o4 = g.op('Transpose', [g.op('Reshape', [out, g.op('Concat', [b, h, l, d], { axis: 0 })])], { perm: [0, 2, 1, 3] });
  return g.op('Reshape', [o4, g.op('Concat', [b, l, g.op('Mul', [d, h])], { axis: 0 })]);
}

function fuse(bytes: Uint8Array) {
  const { model, report } = fuseAttention(onnx.ModelProto.decode(bytes));
  return { bytes: onnx.ModelProto.encode(model).finish(), model, report };
}

function attrs(model: onnxProto.onnx.IModelProto): { numHeads: number; scale: number } {
  const node = model.graph!.node!.find((n) => n.opType === 'MultiHeadAttention')!;
  expect(node.domain).toBe('com.microsoft');
  const a = (name: string) => node.attribute!.find((x) => x.name === name)!;
  return { numHeads: Number(a('num_heads').i), scale: a('scale').f! };
}

const feeds = (shapes: Record<string, number[]>): Record<string, ort.Tensor> =>
  Object.fromEntries(
    Object.entries(shapes).map(([name, dims], j) => {
      const n = dims.reduce((a, b) => a * b, 1);
      return [name, new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + j)), dims)];
    }),
  );

async function run(bytes: Uint8Array, inputs: Record<string, ort.Tensor>): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run(inputs);
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

function maxDiff(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { diff, scale };
}

async function expectSame(original: Uint8Array, fused: Uint8Array, inputs: Record<string, number[]>): Promise<void> {
  const f = feeds(inputs);
  const { diff, scale } = maxDiff(await run(fused, f), await run(original, f));
  expect(scale).toBeGreaterThan(0);
  expect(diff).toBeLessThan(1e-5 * (1 + scale));
}

const [B, L, LK, C, CC] = [2, 6, 5, 8, 6];
const SELF_INPUTS = { x: [B, L, C] };
const CROSS_INPUTS = { x: [B, L, C], ctx: [B, LK, CC] };

describe('fuseAttention: torch 2 SDPA exports (pattern a)', () => {
  it.each([
    ['scale on q, k split straight to [B, H, D, L]', { scaleAt: 'q', kDirect: true }],
    ['sqrt(scale) on q and k^T, k transposed twice', { scaleAt: 'both', kDirect: false }],
    ['scores divided by sqrt(D)', { scaleAt: 'scores-div', kDirect: true }],
    ["torch's SDPA symbolic (scale from q's shape at run time, k transposed twice)", { scaleAt: 'torch', kDirect: false }],
  ] as const)('self-attention, %s: one MultiHeadAttention, same output', async (_name, variant) => {
    const g = new G();
    const out = sdpa(g, 'x', 'x', C, C, { heads: 2, headDim: 4, ...variant });
    const original = g.model([['x', ['b', 'l', C]]], out);
    const { bytes, model, report } = fuse(original);
    expect(report).toMatchObject({ fused: 1, masked: 0, unmatched: 0, upcast: 0 });
    const ops = countOps(model);
    expect(ops.get(MHA)).toBe(1);
    expect(ops.get('Softmax')).toBeUndefined();
    expect(ops.get('MatMul')).toBe(3); // the q, k, v projections only
    expect(attrs(model).numHeads).toBe(2);
    expect(attrs(model).scale).toBeCloseTo(0.5, 6);
    expect(model.opsetImport).toContainEqual({ domain: 'com.microsoft', version: 1 });
    await expectSame(original, bytes, SELF_INPUTS);
  });

  it('cross-attention (k, v from the context, batch from the context shape)', async () => {
    const g = new G();
    const out = sdpa(g, 'x', 'ctx', C, CC, { heads: 4, headDim: 2, scaleAt: 'q', kDirect: true });
    const original = g.model([['x', ['b', 'l', C]], ['ctx', ['b', 'lk', CC]]], out);
    const { bytes, model, report } = fuse(original);
    expect(report.fused).toBe(1);
    expect(attrs(model)).toEqual({ numHeads: 4, scale: expect.closeTo(1 / Math.sqrt(2), 6) as unknown as number });
    await expectSame(original, bytes, CROSS_INPUTS);
  });

  it('a batch mismatch between query and context makes the fused node refuse the input', async () => {
    const g = new G();
    const out = sdpa(g, 'x', 'ctx', C, CC, { heads: 4, headDim: 2, scaleAt: 'q', kDirect: true });
    const { bytes } = fuse(g.model([['x', ['b', 'l', C]], ['ctx', ['b', 'lk', CC]]], out));
    await expect(run(bytes, feeds({ x: [B, L, C], ctx: [1, LK, CC] }))).rejects.toThrow();
  });

  it('leaves masked attention alone and counts it', () => {
    const g = new G();
    const out = sdpa(g, 'x', 'x', C, C, { heads: 2, headDim: 4, scaleAt: 'q', kDirect: true, mask: 'mask' });
    const { model, report } = fuse(g.model([['x', ['b', 'l', C]], ['mask', [1, 1, 'l', 'l']]], out));
    expect(report).toMatchObject({ fused: 0, masked: 1, unmatched: 0 });
    expect(countOps(model).get('Softmax')).toBe(1);
    expect(countOps(model).get(MHA)).toBeUndefined();
  });

  it.each([
    ['k split as [B, L, D, H] (head size and heads swapped)', { kSplit: (g: G, b: string) => g.op('Concat', [b, g.ints([-1]), g.ints([4]), g.ints([2])], { axis: 0 }) }],
    ['q split with its batch folded into the tokens ([1, -1, H, D])', { qSplit: (g: G) => g.ints([1, -1, 2, 4]) }],
    ['q split with a batch from an unrelated graph input', { qSplit: (g: G) => g.op('Concat', [g.dimOf('other', 0), g.ints([-1, 2, 4])], { axis: 0 }) }],
  ])('leaves a variant it cannot prove equivalent: %s', (_name, variant) => {
    const g = new G();
    const out = sdpa(g, 'x', 'x', C, C, { heads: 2, headDim: 4, scaleAt: 'q', kDirect: true, ...variant });
    const { model, report } = fuse(g.model([['x', ['b', 'l', C]], ['other', ['n']]], out));
    expect(report).toMatchObject({ fused: 0, masked: 0, unmatched: 1 });
    expect(Object.keys(report.reasons)).toHaveLength(1);
    expect(countOps(model).get(MHA)).toBeUndefined();
  });
});

describe('fuseAttention: ranks the model records', () => {
  it('leaves attention over tokens of rank 4 (MultiHeadAttention takes [B, L, H*D] only)', async () => {
    const g = new G();
    const out = sdpa(g, 'x', 'x', C, C, { heads: 2, headDim: 4, scaleAt: 'q', kDirect: true });
    const original = g.model([['x', ['b', 'n', 'l', C]]], out);
    const { report } = fuse(original);
    expect(report).toMatchObject({ fused: 0, unmatched: 1, reasons: { 'q projection is not of rank 3': 1 } });
    expect((await run(original, feeds({ x: [B, 3, L, C] }))).length).toBe(B * 3 * L * C); // the original runs
  });
});

describe('fuseAttention: the older AttnProcessor export (pattern b)', () => {
  it('self-attention through [B*H, L, D] batches with baddbmm scale and a zero Add', async () => {
    const g = new G();
    const out = bmmAttention(g, 'x', 'x', C, C, 2, 4);
    const original = g.model([['x', ['b', 'l', C]]], out);
    const { bytes, model, report } = fuse(original);
    expect(report.reasons).toEqual({});
    expect(report).toMatchObject({ fused: 1, masked: 0, unmatched: 0 });
    expect(attrs(model).numHeads).toBe(2);
    expect(attrs(model).scale).toBeCloseTo(0.5, 6);
    expect(countOps(model).get('Softmax')).toBeUndefined();
    expect(report.removedNodes).toBeGreaterThan(20);
    await expectSame(original, bytes, SELF_INPUTS);
  });

  it("cross-attention as torch.onnx writes it: baddbmm's empty a ConstantOfShape of the scores' shape times 0, dim // heads a floor_divide", async () => {
    const g = new G();
    const out = bmmAttention(g, 'x', 'ctx', C, CC, 4, 2, 'torch');
    const original = g.model([['x', ['b', 'l', C]], ['ctx', ['b', 'lk', CC]]], out);
    const { bytes, model, report } = fuse(original);
    expect(report.fused).toBe(1);
    expect(attrs(model).numHeads).toBe(4);
    await expectSame(original, bytes, CROSS_INPUTS);
  });

  it('leaves zeros that would broadcast the scores to another shape', () => {
    const g = new G();
    const out = bmmAttention(g, 'x', 'x', C, C, 2, 4, 'broadcast');
    const { report } = fuse(g.model([['x', ['b', 'l', C]]], out));
    expect(report).toMatchObject({ fused: 0, unmatched: 1, reasons: { 'an added zeros tensor broadcasts the scores': 1 } });
  });

  it('a model without attention comes back as it is', () => {
    const g = new G();
    const out = g.linear('x', C, C);
    const input = onnx.ModelProto.decode(g.model([['x', ['b', 'l', C]]], out));
    const { model, report } = fuseAttention(input);
    expect(model).toBe(input);
    expect(report).toMatchObject({ fused: 0, masked: 0, unmatched: 0 });
  });
});
