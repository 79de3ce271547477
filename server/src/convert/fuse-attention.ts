// fuseAttention: an ONNX model -> the same model with each unmasked attention subgraph it can prove equivalent replaced
// by one com.microsoft MultiHeadAttention (nodes only, weights untouched), and a count of what was fused and left.
import onnxProto from 'onnx-proto';
import { fromFloat16Bits } from '../engine/pipeline/tensors.js';
import { MS_DOMAIN } from './graph.js';

const { onnx } = onnxProto;
type IModelProto = onnxProto.onnx.IModelProto;
type IGraphProto = onnxProto.onnx.IGraphProto;
type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type IAttributeProto = onnxProto.onnx.IAttributeProto;
const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

/** What one pass found: each Softmax of the main graph is fused, masked (left) or unmatched (left, with a reason). */
export interface FuseReport {
  readonly fused: number;
  /** Softmax nodes whose scores get a non-zero additive mask (CLIP's causal mask): never fused. */
  readonly masked: number;
  readonly unmatched: number;
  /** Why each unmatched Softmax was left, counted by reason. */
  readonly reasons: Readonly<Record<string, number>>;
  /** Fused attentions that run in float32 between Casts (diffusers' upcast_attention in float16 graphs). */
  readonly upcast: number;
  /** Nodes and initializers that became dead and were removed. */
  readonly removedNodes: number;
  readonly removedInitializers: number;
}

type Long = { toNumber(): number };
const num = (v: number | Long | null | undefined): number => (v === null || v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber());

// ---- symbolic sizes: c * B^b * Lq^lq * Lk^lk -------------------------------------------------------------------

interface Mono {
  readonly c: number;
  readonly b: number;
  readonly lq: number;
  readonly lk: number;
}
const konst = (c: number): Mono => ({ c, b: 0, lq: 0, lk: 0 });
const mul = (x: Mono, y: Mono): Mono => ({ c: x.c * y.c, b: x.b + y.b, lq: x.lq + y.lq, lk: x.lk + y.lk });
const eq = (x: Mono, y: Mono): boolean => x.c === y.c && x.b === y.b && x.lq === y.lq && x.lk === y.lk;
const isConst = (x: Mono): boolean => x.b === 0 && x.lq === 0 && x.lk === 0;
/** x / y when it is exact (integer coefficient, no negative exponent); ONNX int64 Div truncates otherwise. */
function div(x: Mono, y: Mono): Mono | undefined {
  if (y.c === 0 || !Number.isInteger(x.c / y.c)) return undefined;
  const r = { c: x.c / y.c, b: x.b - y.b, lq: x.lq - y.lq, lk: x.lk - y.lk };
  return r.b < 0 || r.lq < 0 || r.lk < 0 ? undefined : r;
}

/** B batch, H heads, Lq/Lk lengths, D head size, W a projection's whole width (H*D, before the split), X unknown. */
type Factor = 'B' | 'H' | 'Lq' | 'Lk' | 'D' | 'W' | 'X';
/** A tensor's layout: each axis is the row-major list of factors it holds. */
type Layout = Factor[][];

// ---- the graph's constants and wiring -----------------------------------------------------------------------------

function tensorValues(t: ITensorProto): number[] | undefined {
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return undefined;
  const count = (t.dims ?? []).reduce<number>((a, d) => a * num(d), 1);
  if (count > 1 << 16) return undefined; // shapes and scalars only
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const read: Partial<Record<number, [number, (o: number) => number]>> = {
      [DT.FLOAT]: [4, (o) => view.getFloat32(o, true)],
      [DT.DOUBLE]: [8, (o) => view.getFloat64(o, true)],
      [DT.FLOAT16]: [2, (o) => fromFloat16Bits(view.getUint16(o, true))],
      [DT.INT64]: [8, (o) => Number(view.getBigInt64(o, true))],
      [DT.INT32]: [4, (o) => view.getInt32(o, true)],
    };
    const r = read[t.dataType ?? 0];
    if (r === undefined || raw.length !== r[0] * count) return undefined;
    return Array.from({ length: count }, (_, i) => r[1](i * r[0]));
  }
  let values: number[];
  if (t.dataType === DT.FLOAT) values = [...(t.floatData ?? [])];
  else if (t.dataType === DT.DOUBLE) values = [...(t.doubleData ?? [])];
  else if (t.dataType === DT.INT64) values = (t.int64Data ?? []).map(num);
  else if (t.dataType === DT.INT32) values = [...(t.int32Data ?? [])];
  else if (t.dataType === DT.FLOAT16) values = (t.int32Data ?? []).map(fromFloat16Bits);
  else return undefined;
  return values.length === count ? values : undefined;
}

interface Constant {
  readonly dims: number[];
  /** undefined: the values are not at hand (external data, large or of another type). */
  readonly values: number[] | undefined;
}

const attr = (node: INodeProto, name: string): IAttributeProto | undefined => node.attribute?.find((a) => a.name === name);
const intAttr = (node: INodeProto, name: string): number | undefined => {
  const a = attr(node, name);
  return a === undefined ? undefined : num(a.i);
};
const intsAttr = (node: INodeProto, name: string): number[] | undefined => attr(node, name)?.ints?.map(num);

/** Every name a node or any subgraph of it reads (subgraphs may read outer-scope values). */
function readsOf(node: INodeProto, into: Set<string>): void {
  for (const i of node.input ?? []) if (i) into.add(i);
  for (const a of node.attribute ?? []) {
    for (const g of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) {
      for (const n of g.node ?? []) readsOf(n, into);
      for (const o of g.output ?? []) if (o.name) into.add(o.name);
    }
  }
}

class GraphIndex {
  readonly producer = new Map<string, INodeProto>();
  readonly consumers = new Map<string, INodeProto[]>();
  readonly constants = new Map<string, Constant>();
  readonly outputs: Set<string>;

  constructor(
    readonly graph: IGraphProto,
    readonly nodes: INodeProto[],
  ) {
    for (const t of graph.initializer ?? []) this.constants.set(t.name ?? '', { dims: (t.dims ?? []).map(num), values: tensorValues(t) });
    // An initializer that is also a graph input can be overridden at run time: not a constant.
    for (const i of graph.input ?? []) this.constants.delete(i.name ?? '');
    for (const n of nodes) {
      for (const o of n.output ?? []) this.producer.set(o, n);
      for (const i of n.input ?? []) if (i) this.consumers.set(i, [...(this.consumers.get(i) ?? []), n]);
      if (n.opType === 'Constant' && !n.domain) {
        const c = constantNode(n);
        if (c !== undefined) this.constants.set(n.output?.[0] ?? '', c);
      }
    }
    this.outputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
    for (const vi of [...(graph.input ?? []), ...(graph.valueInfo ?? []), ...(graph.output ?? [])]) {
      const dims = vi.type?.tensorType?.shape?.dim;
      if (vi.name && dims) this.ranks.set(vi.name, dims.length);
    }
  }

  /** Ranks the model records (graph inputs/outputs, value_info), where it records them. */
  readonly ranks = new Map<string, number>();

  /** The producer of `name` when it is a node of the default domain with the given op type. */
  op(name: string, ...types: string[]): INodeProto | undefined {
    const n = this.producer.get(name);
    return n !== undefined && !n.domain && types.includes(n.opType ?? '') ? n : undefined;
  }

  /** The one node reading `name` (undefined when it has none, several, or is a graph output too). */
  only(name: string): INodeProto | undefined {
    const c = this.consumers.get(name) ?? [];
    return c.length === 1 && !this.outputs.has(name) && !c[0]!.domain ? c[0] : undefined;
  }

  /** The one node reading `name`'s data (Shape nodes, which read only its shape, aside). */
  onlyData(name: string): INodeProto | undefined {
    const c = (this.consumers.get(name) ?? []).filter((n) => n.opType !== 'Shape' || n.domain);
    return c.length === 1 && !this.outputs.has(name) && !c[0]!.domain ? c[0] : undefined;
  }

  /** A constant holding one value (any shape of one element), e.g. a scale. */
  scalar(name: string): { value: number; rank: number } | undefined {
    const c = this.constants.get(name);
    if (c?.values?.length !== 1) return undefined;
    return { value: c.values[0]!, rank: c.dims.length };
  }
}

function constantNode(n: INodeProto): Constant | undefined {
  const a = n.attribute?.[0];
  if (a === undefined) return undefined;
  if (a.name === 'value' && a.t) return { dims: (a.t.dims ?? []).map(num), values: tensorValues(a.t) };
  if (a.name === 'value_float') return { dims: [], values: [a.f ?? 0] };
  if (a.name === 'value_int') return { dims: [], values: [num(a.i)] };
  if (a.name === 'value_floats') return { dims: [a.floats?.length ?? 0], values: [...(a.floats ?? [])] };
  if (a.name === 'value_ints') return { dims: [a.ints?.length ?? 0], values: (a.ints ?? []).map(num) };
  return undefined;
}

// ---- one attention ------------------------------------------------------------------------------------------------

class NoMatch extends Error {}
const fail = (reason: string): never => {
  throw new NoMatch(reason);
};

interface Projection {
  /** The projection's input (hidden states or context) and its output [B, L, H*D]. */
  readonly input: string;
  readonly output: string;
  readonly width: number;
}

interface Match {
  readonly q: string;
  readonly k: string;
  readonly v: string;
  readonly heads: number;
  readonly scale: number;
  /** The node whose output is the merged [B, Lq, H*D]; the fused node takes its place. */
  readonly merge: INodeProto;
  /** Element type to cast the fused output back to when the scores ran in float32 between casts. */
  readonly upcastTo?: number;
}

class AttentionMatcher {
  private readonly layouts = new Map<string, Layout>();
  private heads = 0;
  private headDim = 0;
  private scale = 1;
  private upcast = false;
  private readonly deferred: { name: string; exponent: number }[] = [];
  private readonly zeroAdds: string[] = [];
  private projections: { q?: Projection; k?: Projection; v?: Projection } = {};

  constructor(
    private readonly ix: GraphIndex,
    private readonly softmax: INodeProto,
    private readonly opset: number,
  ) {}

  private size(f: Factor): Mono | undefined {
    switch (f) {
      case 'B':
        return { c: 1, b: 1, lq: 0, lk: 0 };
      case 'Lq':
        return { c: 1, b: 0, lq: 1, lk: 0 };
      case 'Lk':
        return this.selfAttention() ? { c: 1, b: 0, lq: 1, lk: 0 } : { c: 1, b: 0, lq: 0, lk: 1 };
      case 'H':
        return konst(this.heads);
      case 'D':
        return konst(this.headDim);
      case 'W':
        return konst(this.projections.q!.width);
      default:
        return undefined;
    }
  }

  private selfAttention(): boolean {
    const { q, k, v } = this.projections;
    return q !== undefined && q.input === k?.input && q.input === v?.input;
  }

  private axisSize(axis: Factor[]): Mono | undefined {
    let m = konst(1);
    for (const f of axis) {
      const s = this.size(f);
      if (s === undefined) return undefined;
      m = mul(m, s);
    }
    return m;
  }

  match(): Match {
    const sm = this.softmax;
    // Scores side: Softmax <- [Cast | Mul/Div by a constant | Add of zeros]* <- MatMul(q, k^T).
    let scores = sm.input?.[0] ?? '';
    for (;;) {
      const n = this.ix.producer.get(scores);
      if (n === undefined || n.domain) fail('scores are not a MatMul');
      const type = n!.opType;
      if (type === 'Cast') {
        if (intAttr(n!, 'to') !== DT.FLOAT) fail('scores cast to a type other than float32');
        this.upcast = true;
        scores = n!.input![0]!;
      } else if (type === 'Mul' || type === 'Div') {
        scores = this.peelScale(n!);
      } else if (type === 'Add') {
        const [a, b] = n!.input as string[];
        const zerosB = this.isZero(b!) ? '' : this.zerosOfShape(b!);
        const zerosA = zerosB !== undefined || this.isZero(a!) ? '' : this.zerosOfShape(a!);
        if (zerosB === undefined && zerosA === undefined) throw new NoMatch('masked');
        const zeros = zerosB ?? zerosA!;
        if (zeros !== '') this.zeroAdds.push(zeros); // '' : a constant of zeros, nothing to check
        scores = zerosB !== undefined ? a! : b!;
      } else if (type === 'Where' || type === 'Sub') {
        throw new NoMatch('masked');
      } else if (type === 'MatMul') {
        break;
      } else {
        fail(`scores come from ${type}`);
      }
    }
    const qk = this.ix.producer.get(scores)!;
    // Probabilities side: Softmax -> [Cast] -> MatMul(probs, v).
    let probs = sm.output?.[0] ?? '';
    let upcastTo: number | undefined;
    let next = this.ix.only(probs);
    if (next?.opType === 'Cast') {
      upcastTo = intAttr(next, 'to');
      probs = next.output![0]!;
      next = this.ix.only(probs);
    }
    if (next?.opType !== 'MatMul' || next.input?.[0] !== probs) fail('the probabilities feed something other than one MatMul(probs, v)');
    const pv = next!;

    // Each operand back to its projection, then its layout forward from [B, L, H*D].
    const qChain = this.chain(qk.input![0]!, 'q');
    const kChain = this.chain(qk.input![1]!, 'k');
    const vChain = this.chain(pv.input![1]!, 'v');
    if (upcastTo !== undefined && !this.upcast) fail('probabilities cast without float32 scores');
    for (const [which, len] of [['q', 'Lq'], ['k', 'Lk'], ['v', 'Lk']] as const) {
      const p = this.projections[which]!;
      this.layouts.set(p.input, [['B'], [len], ['X']]);
      this.layouts.set(p.output, [['B'], [len], ['W']]);
    }
    this.fixHeads(qChain);
    const qL = this.follow(qChain, 'q', 'Lq');
    const kL = this.follow(kChain, 'k', 'Lk');
    const vL = this.follow(vChain, 'v', 'Lk');
    const batch = qL.slice(0, -2);
    const same = (x: Layout, y: Layout): boolean => JSON.stringify(x) === JSON.stringify(y);
    if (!same(qL, [...batch, ['Lq'], ['D']]) || JSON.stringify(batch.flat()) !== JSON.stringify(['B', 'H'])) fail('q is not split into heads as [B, H, Lq, D]');
    if (!same(kL, [...batch, ['D'], ['Lk']])) fail('k is not split into heads as [B, H, D, Lk]');
    if (!same(vL, [...batch, ['Lk'], ['D']])) fail('v is not split into heads as [B, H, Lk, D]');
    this.checkZeroAdds([...batch, ['Lq'], ['Lk']]);
    const rank = batch.length + 2;
    const axis = intAttr(sm, 'axis') ?? (this.opset >= 13 ? -1 : 1);
    if (axis !== -1 && axis !== rank - 1) fail('softmax is not over the last axis');
    // Output: MatMul(probs, v) [.., Lq, D] -> Reshape/Transpose* -> [B, Lq, H*D].
    let out = pv.output![0]!;
    let layout: Layout = [...batch, ['Lq'], ['D']];
    this.layouts.set(out, layout);
    let merge: INodeProto | undefined;
    for (let steps = 0; steps < 6 && !same(layout, [['B'], ['Lq'], ['H', 'D']]); steps++) {
      const n = this.ix.onlyData(out);
      if (n === undefined || (n.opType !== 'Reshape' && n.opType !== 'Transpose') || n.input?.[0] !== out) fail('the attention output is not merged back to [B, Lq, H*D]');
      layout = this.step(n!, layout);
      out = n!.output![0]!;
      this.layouts.set(out, layout);
      merge = n;
    }
    if (merge === undefined || !same(layout, [['B'], ['Lq'], ['H', 'D']])) fail('the attention output is not merged back to [B, Lq, H*D]');
    this.deferredScale();
    if (this.scale === 0 || !Number.isFinite(this.scale)) fail('scale is zero or not finite');
    if (upcastTo === undefined && this.upcast) upcastTo = DT.FLOAT;
    return {
      q: this.projections.q!.output,
      k: this.projections.k!.output,
      v: this.projections.v!.output,
      heads: this.heads,
      scale: this.scale,
      merge: merge!,
      ...(this.upcast ? { upcastTo } : {}),
    };
  }

  /**
   * A Mul/Div of `n` by a constant (one value): its factor joins the scale; returns the other operand. A second
   * operand computed at run time (torch's SDPA export: Sqrt(1 / Sqrt(Cast(Shape(q)[-1])))) is evaluated once the
   * operands' layouts are known (deferredScale).
   */
  private peelScale(n: INodeProto): string {
    const [a, b] = n.input as string[];
    const sb = this.ix.scalar(b!);
    if (sb !== undefined && sb.rank <= 1) {
      this.scale *= n.opType === 'Mul' ? sb.value : 1 / sb.value;
      return a!;
    }
    const sa = this.ix.scalar(a!);
    if (n.opType === 'Mul' && sa !== undefined && sa.rank <= 1) {
      this.scale *= sa.value;
      return b!;
    }
    this.deferred.push({ name: b!, exponent: n.opType === 'Mul' ? 1 : -1 });
    return a!;
  }

  /** The scale factors computed at run time, now that the layouts they read are known. */
  private deferredScale(): void {
    for (const d of this.deferred) this.scale *= this.floatScalar(d.name, 0) ** d.exponent;
  }

  /** A one-value float computed from constants and tied sizes (Sqrt, Reciprocal, Mul, Div, Cast of shape values). */
  private floatScalar(name: string, depth: number): number {
    if (depth > 12) return fail('scale arithmetic too deep');
    const c = this.ix.scalar(name);
    if (c !== undefined) return c.rank <= 1 ? c.value : fail('scale constant of rank above 1');
    const n = this.ix.producer.get(name);
    if (n === undefined || n.domain) return fail('scale is not computable');
    const arg = (i: number): number => this.floatScalar(n.input?.[i] ?? '', depth + 1);
    switch (n.opType) {
      case 'Sqrt':
        return Math.sqrt(arg(0));
      case 'Reciprocal':
        return 1 / arg(0);
      case 'Mul':
        return arg(0) * arg(1);
      case 'Div':
        return arg(0) / arg(1);
      case 'Cast':
      case 'Identity':
        return arg(0);
      default: {
        const v = this.dims(name);
        return v.length === 1 && isConst(v[0]!) ? v[0]!.c : fail('scale is not a constant size');
      }
    }
  }

  /**
   * The shape input of `name` when it is zeros computed at run time: torch's baddbmm(empty, q, k^T, beta=0) exports
   * beta * empty as Mul(ConstantOfShape(shape), 0) (or the ConstantOfShape of zeros alone). Checked against the
   * scores' shape once layouts are known (checkZeroAdds), so the Add cannot broadcast the scores.
   */
  private zerosOfShape(name: string): string | undefined {
    const fill = (n: INodeProto | undefined): number | undefined => {
      if (n === undefined) return undefined;
      const v = attr(n, 'value')?.t;
      const values = v === undefined || v === null ? [0] : tensorValues(v);
      return values?.length === 1 ? values[0] : undefined;
    };
    const cos = this.ix.op(name, 'ConstantOfShape');
    if (cos !== undefined) return fill(cos) === 0 ? cos.input![0]! : undefined;
    const m = this.ix.op(name, 'Mul');
    if (m === undefined) return undefined;
    for (const [x, y] of [[m.input![0]!, m.input![1]!], [m.input![1]!, m.input![0]!]] as const) {
      const filled = this.ix.op(x, 'ConstantOfShape');
      const value = fill(filled);
      if (value === undefined || !Number.isFinite(value)) continue;
      try {
        if (this.floatScalar(y, 0) === 0) return filled!.input![0]!;
      } catch (error) {
        if (!(error instanceof NoMatch)) throw error;
      }
    }
    return undefined;
  }

  /** Each zeros tensor added to the scores has at most their rank and, aligned right, their sizes or 1. */
  private checkZeroAdds(scores: Layout): void {
    const sizes = scores.map((a) => this.axisSize(a));
    for (const shape of this.zeroAdds) {
      const s = this.dims(shape);
      if (s.length > sizes.length) fail('an added zeros tensor has a higher rank than the scores');
      s.forEach((m, i) => {
        const target = sizes[sizes.length - s.length + i];
        if (!eq(m, konst(1)) && (target === undefined || !eq(m, target))) fail('an added zeros tensor broadcasts the scores');
      });
    }
  }

  private isZero(name: string): boolean {
    const c = this.ix.constants.get(name);
    return c?.values !== undefined && c.dims.every((d) => d === 1) && c.values.every((v) => v === 0);
  }

  /** The nodes from the projection output [B, L, H*D] to `name`, in graph order (Reshape, Transpose, scale, Cast). */
  private chain(name: string, which: 'q' | 'k' | 'v'): INodeProto[] {
    const nodes: INodeProto[] = [];
    let t = name;
    for (let steps = 0; steps < 10; steps++) {
      const p = this.projection(t);
      if (p !== undefined && nodes.some((n) => n.opType === 'Reshape')) {
        // Tokens are [B, L, width]; MultiHeadAttention refuses other ranks at run time, but a rank the model records
        // is checked here so that no graph that loads today stops loading.
        if ([p.input, p.output].some((t) => (this.ix.ranks.get(t) ?? 3) !== 3)) fail(`${which} projection is not of rank 3`);
        this.projections[which] = p;
        return nodes.reverse();
      }
      const n = this.ix.producer.get(t);
      if (n === undefined || n.domain) break;
      if (n.opType === 'Reshape' || n.opType === 'Transpose') {
        nodes.push(n);
        t = n.input![0]!;
      } else if (n.opType === 'Mul' || n.opType === 'Div') {
        if (which === 'v') fail('v is scaled');
        nodes.push(n); // layout unchanged; recorded so that shapes read from its output are known
        t = this.peelScale(n);
      } else if (n.opType === 'Cast') {
        if (intAttr(n, 'to') !== DT.FLOAT) fail(`${which} cast to a type other than float32`);
        if (which === 'v') fail('v is cast');
        this.upcast = true;
        nodes.push(n);
        t = n.input![0]!;
      } else {
        break;
      }
    }
    return fail(`${which} does not come from a projection (MatMul by a 2-D weight, optional bias) through a head split`);
  }

  /** `name` as the output of MatMul(x, W [in, N]) or Add(that, bias [N]). */
  private projection(name: string): Projection | undefined {
    const weightWidth = (mm: INodeProto): number | undefined => {
      const w = this.ix.constants.get(mm.input?.[1] ?? '');
      return w?.dims.length === 2 ? w.dims[1] : undefined;
    };
    const mm = this.ix.op(name, 'MatMul');
    if (mm !== undefined) {
      const width = weightWidth(mm);
      return width === undefined ? undefined : { input: mm.input![0]!, output: name, width };
    }
    const add = this.ix.op(name, 'Add');
    if (add === undefined) return undefined;
    for (const [x, bias] of [[add.input![0]!, add.input![1]!], [add.input![1]!, add.input![0]!]] as const) {
      const inner = this.ix.op(x, 'MatMul');
      const b = this.ix.constants.get(bias);
      const width = inner === undefined ? undefined : weightWidth(inner);
      if (width !== undefined && b?.dims.length === 1 && b.dims[0] === width) return { input: inner!.input![0]!, output: name, width };
    }
    return undefined;
  }

  /** H and D from q's head split: its first Reshape's last two target values. */
  private fixHeads(chain: INodeProto[]): void {
    const first = chain.find((n) => n.opType === 'Reshape');
    if (first === undefined) fail('q is not reshaped after its projection');
    const target = this.shapeValues(first!.input![1]!);
    const [h, d] = target.slice(-2);
    if (target.length !== 4 || h === undefined || d === undefined || h === 'copy' || d === 'copy' || h === 'infer' || d === 'infer' || !isConst(h) || !isConst(d)) {
      fail('q head split does not name heads and head size as constants');
    }
    this.heads = (h as Mono).c;
    this.headDim = (d as Mono).c;
    if (this.heads <= 0 || this.headDim <= 0 || this.heads * this.headDim !== this.projections.q!.width) fail('heads x head size is not the q projection width');
  }

  /** Follows a chain from its projection output (layout [B, L, H*D]) to the operand's layout. */
  private follow(chain: INodeProto[], which: 'q' | 'k' | 'v', len: 'Lq' | 'Lk'): Layout {
    const p = this.projections[which]!;
    if (p.width !== this.heads * this.headDim) fail(`${which} projection width is not heads x head size`);
    this.layouts.set(p.input, [['B'], [len], ['X']]);
    let layout: Layout = [['B'], [len], ['H', 'D']];
    this.layouts.set(p.output, layout);
    for (const n of chain) {
      layout = this.step(n, layout);
      this.layouts.set(n.output![0]!, layout);
    }
    return layout;
  }

  /** The layout after one Reshape or Transpose of a tensor of layout `x`. */
  private step(n: INodeProto, x: Layout): Layout {
    if (n.opType === 'Mul' || n.opType === 'Div' || n.opType === 'Cast') return x; // by a one-value scale
    if (n.opType === 'Transpose') {
      const perm = intsAttr(n, 'perm') ?? x.map((_, i) => x.length - 1 - i);
      if (perm.length !== x.length || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) fail('transpose permutation does not fit');
      return perm.map((p) => x[p]!);
    }
    if (intAttr(n, 'allowzero') === 1) fail('reshape with allowzero');
    const target = this.shapeValues(n.input![1]!);
    const sizes: (Mono | undefined)[] = target.map((t, i) => (t === 'copy' ? (i < x.length ? this.axisSize(x[i]!) : undefined) : t === 'infer' ? undefined : t));
    if (sizes.some((s, i) => s === undefined && target[i] !== 'infer')) fail('reshape copies an axis the input lacks');
    const inferred = target.filter((t) => t === 'infer').length;
    if (inferred > 1) fail('reshape infers more than one axis');
    if (inferred === 1) {
      const total = x.reduce<Mono | undefined>((m, a) => {
        const s = this.axisSize(a);
        return m === undefined || s === undefined ? undefined : mul(m, s);
      }, konst(1));
      const known = sizes.reduce<Mono>((m, s) => (s === undefined ? m : mul(m, s)), konst(1));
      const rest = total === undefined ? undefined : div(total, known);
      if (rest === undefined) fail('reshape infers an axis that is not a whole factor');
      sizes[target.indexOf('infer')] = rest;
    }
    // Regroup the row-major factor list into the target axes; each axis must end on a factor boundary.
    const flat = x.flat();
    const out: Layout = [];
    let at = 0;
    for (const s of sizes as Mono[]) {
      const axis: Factor[] = [];
      let m = konst(1);
      // A size-1 factor (a single head) goes to the first axis of size 1 that is still empty.
      const one = (f: Factor | undefined): boolean => f !== undefined && eq(this.size(f) ?? konst(0), konst(1));
      while (at < flat.length && (!eq(m, s) || (axis.length === 0 && one(flat[at])))) {
        const f = flat[at++]!;
        axis.push(f);
        m = mul(m, this.size(f) ?? fail('reshape splits an axis of unknown size'));
      }
      if (!eq(m, s)) fail('reshape splits a factor');
      out.push(axis);
    }
    if (at !== flat.length) fail('reshape drops factors');
    return out;
  }

  /** A Reshape target: each value a constant, 0 (copy), -1 (infer), or a size computed from a tensor's shape. */
  private shapeValues(name: string): (Mono | 'copy' | 'infer')[] {
    const c = this.ix.constants.get(name);
    if (c !== undefined) {
      if (c.values === undefined || c.dims.length !== 1) return fail('reshape target is not a 1-D constant');
      return c.values.map((v) => (v === 0 ? 'copy' : v === -1 ? 'infer' : v > 0 ? konst(v) : fail('reshape target below -1')));
    }
    const n = this.ix.op(name, 'Concat');
    if (n === undefined) return this.dims(name).map((m) => m);
    return (n.input ?? []).flatMap((piece) => {
      const pc = this.ix.constants.get(piece);
      if (pc !== undefined) return this.shapeValues(piece);
      return this.dims(piece);
    });
  }

  /** A computed 1-D int64 value of shape arithmetic as sizes: Shape/Gather/Slice/Unsqueeze/Squeeze/Cast/Mul/Div. */
  private dims(name: string, depth = 0): Mono[] {
    if (depth > 12) return fail('shape arithmetic too deep');
    const c = this.ix.constants.get(name);
    if (c !== undefined) {
      if (c.values === undefined || c.values.some((v) => v <= 0)) return fail('shape arithmetic on a constant that is not a positive size');
      return c.values.map(konst);
    }
    const n = this.ix.producer.get(name);
    if (n === undefined || n.domain) return fail('reshape target is not computable');
    const inp = (i: number): string => n.input?.[i] ?? '';
    switch (n.opType) {
      case 'Shape': {
        const { vec, rankKnown } = this.shapeVector(n);
        if (!rankKnown) fail(`the rank of ${inp(0)} is not tied to the attention's inputs`);
        return vec.map((m, i) => m ?? fail(`axis ${i} of ${inp(0)} is not tied to the attention's inputs`));
      }
      case 'Gather': {
        if ((intAttr(n, 'axis') ?? 0) !== 0) fail('gather of a shape on another axis');
        const source = this.ix.op(inp(0), 'Shape');
        const idx = this.ix.constants.get(inp(1));
        if (source === undefined || idx?.values?.length !== 1) return fail('gather of something other than a shape');
        const { vec, rankKnown } = this.shapeVector(source);
        const i = idx.values[0]!;
        if (i < 0 && !rankKnown) fail(`the rank of ${source.input![0]} is not tied to the attention's inputs`);
        return [vec[i < 0 ? i + vec.length : i] ?? fail(`axis ${i} of ${source.input![0]} is not tied to the attention's inputs`)];
      }
      case 'Slice': {
        const data = this.dims(inp(0), depth + 1);
        const at = (i: number): number[] | undefined => (inp(i) === '' ? undefined : this.ix.constants.get(inp(i))?.values ?? fail('slice bounds are not constants'));
        const [starts, ends, axes, steps] = [at(1), at(2), at(3), at(4)];
        if (starts?.length !== 1 || ends?.length !== 1 || (axes !== undefined && axes[0] !== 0 && axes[0] !== -1) || (steps !== undefined && steps[0] !== 1)) {
          return fail('slice of a shape other than one contiguous range');
        }
        const bound = (v: number): number => Math.min(Math.max(v < 0 ? v + data.length : v, 0), data.length);
        return data.slice(bound(starts[0]!), bound(ends[0]!));
      }
      case 'Unsqueeze':
      case 'Squeeze':
      case 'Cast':
      case 'Identity':
        return this.dims(inp(0), depth + 1);
      case 'Mul':
      case 'Div': {
        const [x, y] = [this.dims(inp(0), depth + 1), this.dims(inp(1), depth + 1)];
        if (x.length !== 1 || y.length !== 1) return fail('shape arithmetic on more than one value');
        const r = n.opType === 'Mul' ? mul(x[0]!, y[0]!) : div(x[0]!, y[0]!);
        return [r ?? fail('shape division is not exact')];
      }
      case 'Concat':
        return (n.input ?? []).flatMap((p) => this.dims(p, depth + 1));
      case 'Sub':
        // torch.onnx's floor_divide of ints: Div(a, b) - fixup, the fixup 0 unless a or b is negative (sizes are not).
        return this.zeroFixup(inp(1), depth + 1) ? this.dims(inp(0), depth + 1) : fail('shape arithmetic subtracts');
      default:
        return fail(`reshape target computed by ${n.opType}`);
    }
  }

  /**
   * Whether `name` is provably 0/false given that sizes are positive: floor_divide's fixup (And(Xor(Less(a, 0),
   * Less(b, 0)), ...) times 1, Cast) of positive a and b.
   */
  private zeroFixup(name: string, depth: number): boolean {
    if (depth > 16) return false;
    const c = this.ix.constants.get(name);
    if (c !== undefined) return c.values !== undefined && c.values.every((v) => v === 0);
    const n = this.ix.producer.get(name);
    if (n === undefined || n.domain) return false;
    const zero = (i: number): boolean => this.zeroFixup(n.input?.[i] ?? '', depth + 1);
    switch (n.opType) {
      case 'Cast':
        return zero(0);
      case 'And':
      case 'Mul':
        return zero(0) || zero(1);
      case 'Xor':
      case 'Or':
        return zero(0) && zero(1);
      case 'Less': {
        // size < 0 (or < a positive constant that is no larger than the size: not needed) is false.
        const bound = this.ix.constants.get(n.input?.[1] ?? '');
        if (bound?.values?.length !== 1 || bound.values[0] !== 0) return false;
        try {
          return this.dims(n.input?.[0] ?? '', depth + 1).every((m) => m.c > 0);
        } catch (error) {
          if (error instanceof NoMatch) return false;
          throw error;
        }
      }
      default:
        return false;
    }
  }

  /**
   * The sizes a Shape node yields (its start/end applied; undefined where an axis is not tied to this attention).
   * Of a tensor tied by its batch alone only axis 0 is known, and not its rank (`rankKnown` false).
   */
  private shapeVector(shape: INodeProto): { vec: (Mono | undefined)[]; rankKnown: boolean } {
    const name = shape.input?.[0] ?? '';
    const start = intAttr(shape, 'start');
    const end = intAttr(shape, 'end');
    const known = this.layouts.get(name);
    if (known !== undefined) {
      const rank = known.length;
      const norm = (v: number): number => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
      return { vec: known.map((x) => this.axisSize(x)).slice(norm(start ?? 0), norm(end ?? rank)), rankKnown: true };
    }
    // Axis 0 of a tensor the attention's inputs are computed from by axis-0-keeping ops is the batch.
    const tied = Object.values(this.projections).some((p) => p !== undefined && this.keepsBatch(name, p.input, 0));
    if ((start ?? 0) === 0 && tied) return { vec: [this.size('B')], rankKnown: false };
    return fail(`the shape of ${name} is not tied to the attention's inputs`);
  }

  /** Whether `to` is computed from `from` by ops that keep axis 0 (walking back from `to`). */
  private keepsBatch(from: string, to: string, depth: number): boolean {
    if (from === to) return true;
    if (depth > 16) return false;
    const n = this.ix.producer.get(to);
    if (n === undefined || n.domain) return false;
    const i0 = n.input?.[0] ?? '';
    const smallConst = (x: string): boolean => {
      const c = this.ix.constants.get(x);
      return c !== undefined && c.dims.length <= 1;
    };
    switch (n.opType) {
      case 'Cast':
      case 'Identity':
      case 'Sigmoid':
      case 'Erf':
      case 'Tanh':
      case 'Relu':
      case 'Neg':
      case 'Sqrt':
      case 'InstanceNormalization':
      case 'LayerNormalization':
        return this.keepsBatch(from, i0, depth + 1);
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Pow': {
        const i1 = n.input?.[1] ?? '';
        if (smallConst(i1)) return this.keepsBatch(from, i0, depth + 1);
        if (smallConst(i0) && n.opType !== 'Sub' && n.opType !== 'Div' && n.opType !== 'Pow') return this.keepsBatch(from, i1, depth + 1);
        return false;
      }
      case 'MatMul': {
        const w = this.ix.constants.get(n.input?.[1] ?? '');
        return w?.dims.length === 2 && this.keepsBatch(from, i0, depth + 1);
      }
      case 'Transpose':
        return intsAttr(n, 'perm')?.[0] === 0 && this.keepsBatch(from, i0, depth + 1);
      case 'Reshape': {
        const s = this.ix.constants.get(n.input?.[1] ?? '');
        if (s?.values?.[0] === 0 && intAttr(n, 'allowzero') !== 1) return this.keepsBatch(from, i0, depth + 1);
        const shape = this.ix.op(n.input?.[1] ?? '', 'Shape');
        return shape !== undefined && (intAttr(shape, 'start') ?? 0) === 0 && this.keepsBatch(from, shape.input![0]!, depth + 1);
      }
      default:
        return false;
    }
  }
}

// ---- the pass -----------------------------------------------------------------------------------------------------

/**
 * The subgraphs are the ones fusion_attention_unet.py (onnxruntime) fuses in torch.onnx/Optimum exports of diffusers'
 * UNet and VAE (and HyperGen's `--attention plain` graphs): q, k, v projections (MatMul by a 2-D weight, optional bias
 * Add), a head split (Reshape [B, L, H, D], Transpose; or merged to [B*H, L, D] as diffusers' older AttnProcessor
 * does), MatMul(q, k^T), the scale (Mul/Div on q, k^T or the scores), Softmax over the last axis, MatMul(probs, v)
 * and the merge back to [B, L, H*D]. Instead of fixed node sequences, every Reshape/Transpose on the way is followed
 * with a layout algebra (each axis a row-major list of the factors B, H, Lq, Lk, D), so any chain whose result is
 * provably the head split, the score layout and the merge is accepted, and any other (heads and head size swapped,
 * a batch folded into the tokens, a size not tied to the attention's own inputs) is left as it is and counted.
 *
 * Rewrites `model`'s main graph (subgraphs are not searched): each matched attention becomes one MultiHeadAttention
 * (com.microsoft; query/key/value the projections' outputs, num_heads, scale as the graph computes it), nodes and
 * inline or external initializers left without readers are removed, and the com.microsoft opset is imported when
 * something was fused. Returns a new ModelProto (the input is not modified; tensors are shared) and the report.
 */
export function fuseAttention(model: IModelProto): { model: IModelProto; report: FuseReport } {
  const graph = model.graph ?? {};
  const nodes = [...(graph.node ?? [])];
  const ix = new GraphIndex(graph, nodes);
  const opset = num(model.opsetImport?.find((o) => !o.domain)?.version ?? 1);
  const reasons: Record<string, number> = {};
  let masked = 0;
  let upcast = 0;
  const replacements = new Map<INodeProto, INodeProto[]>();
  const taken = new Set(nodes.map((n) => n.name ?? ''));
  const unique = (base: string): string => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  const valueNames = new Set([...ix.producer.keys(), ...ix.constants.keys(), ...(graph.input ?? []).map((i) => i.name ?? '')]);
  const uniqueValue = (base: string): string => {
    let name = base;
    for (let i = 1; valueNames.has(name); i++) name = `${base}_${i}`;
    valueNames.add(name);
    return name;
  };
  for (const sm of nodes.filter((n) => n.opType === 'Softmax' && !n.domain)) {
    let m: Match;
    try {
      m = new AttentionMatcher(ix, sm, opset).match();
    } catch (error) {
      if (!(error instanceof NoMatch)) throw error;
      if (error.message === 'masked') masked++;
      else reasons[error.message] = (reasons[error.message] ?? 0) + 1;
      continue;
    }
    if (replacements.has(m.merge)) {
      reasons['merge node shared with another attention'] = (reasons['merge node shared with another attention'] ?? 0) + 1;
      continue;
    }
    const base = m.merge.name || m.merge.output![0]!;
    const added: INodeProto[] = [];
    let [q, k, v] = [m.q, m.k, m.v];
    const out = m.merge.output![0]!;
    let mhaOut = out;
    if (m.upcastTo !== undefined) {
      upcast++;
      [q, k, v] = [q, k, v].map((t, i) => {
        const o = uniqueValue(`${base}_mha_in${i}_f32`);
        added.push({ opType: 'Cast', name: unique(`${base}_mha_cast${i}`), input: [t], output: [o], attribute: [{ name: 'to', type: AT.INT, i: DT.FLOAT }] });
        return o;
      }) as [string, string, string];
      if (m.upcastTo !== DT.FLOAT) mhaOut = uniqueValue(`${base}_mha_f32`);
    }
    added.push({
      opType: 'MultiHeadAttention',
      domain: MS_DOMAIN,
      name: unique(`${base}_mha`),
      input: [q, k, v],
      output: [mhaOut],
      attribute: [
        { name: 'num_heads', type: AT.INT, i: m.heads },
        { name: 'scale', type: AT.FLOAT, f: m.scale },
      ],
    });
    if (mhaOut !== out) {
      added.push({ opType: 'Cast', name: unique(`${base}_mha_cast_out`), input: [mhaOut], output: [out], attribute: [{ name: 'to', type: AT.INT, i: m.upcastTo }] });
    }
    replacements.set(m.merge, added);
  }
  const fused = replacements.size;
  const unmatched = Object.values(reasons).reduce((a, b) => a + b, 0);
  if (fused === 0) {
    return { model, report: { fused, masked, unmatched, reasons, upcast, removedNodes: 0, removedInitializers: 0 } };
  }
  let rewritten = nodes.flatMap((n) => replacements.get(n) ?? [n]);
  // Dead code: nodes none of whose outputs is read (by a node, a subgraph or the graph's outputs), repeatedly.
  const readNames = (list: INodeProto[]): Set<string> => {
    const read = new Set((graph.output ?? []).map((o) => o.name ?? ''));
    for (const n of list) readsOf(n, read);
    return read;
  };
  for (;;) {
    const read = readNames(rewritten);
    const alive = rewritten.filter((n) => (n.output ?? []).some((o) => o !== '' && read.has(o)));
    if (alive.length === rewritten.length) break;
    rewritten = alive;
  }
  const read = readNames(rewritten);
  const inputs = new Set((graph.input ?? []).map((i) => i.name ?? ''));
  const initializer = (graph.initializer ?? []).filter((t) => read.has(t.name ?? '') || inputs.has(t.name ?? ''));
  const produced = new Set([...rewritten.flatMap((n) => n.output ?? []), ...initializer.map((t) => t.name ?? ''), ...inputs]);
  const kept = new Set(rewritten);
  const report: FuseReport = {
    fused,
    masked,
    unmatched,
    reasons,
    upcast,
    removedNodes: nodes.filter((n) => !kept.has(n)).length,
    removedInitializers: (graph.initializer ?? []).length - initializer.length,
  };
  const opsetImport = [...(model.opsetImport ?? [])];
  if (!opsetImport.some((o) => o.domain === MS_DOMAIN)) opsetImport.push({ domain: MS_DOMAIN, version: 1 });
  return {
    model: {
      ...model,
      opsetImport,
      graph: {
        ...graph,
        node: rewritten,
        initializer,
        valueInfo: (graph.valueInfo ?? []).filter((vi) => produced.has(vi.name ?? '')),
      },
    },
    report,
  };
}

/** Node count per op type of the main graph (`domain.op` outside the default domain). */
export function countOps(model: IModelProto): Map<string, number> {
  const ops = new Map<string, number>();
  for (const n of model.graph?.node ?? []) {
    const key = n.domain ? `${n.domain}.${n.opType}` : (n.opType ?? '');
    ops.set(key, (ops.get(key) ?? 0) + 1);
  }
  return ops;
}
