// A small ONNX graph builder: nodes, initializers (from a WeightSource) and typed graph inputs/outputs, serialised
// with onnx-proto. Activations are computed in the graph's float type (float32, or float16 for fp16 exports).
import { writeFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { toFloat16Array } from '../engine/pipeline/tensors.js';
import type { FloatElem, Init, ParamLayout, WeightSource } from './weight-source.js';

const { onnx } = onnxProto;
type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type IValueInfoProto = onnxProto.onnx.IValueInfoProto;
type IAttributeProto = onnxProto.onnx.IAttributeProto;

/** Opset 17: LayerNormalization is native, and onnxruntime-node 1.30 implements every op used here for it. */
export const OPSET = 17;
/** IR version 8 is what opset 17 requires and what onnx-proto (onnx 1.10 schema) describes. */
export const IR_VERSION = 8;

export type ElemType = 'float32' | 'float16' | 'int32' | 'int64';
const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
};

/** ONNX TensorProto.DataType code of an element type (for Cast's `to`). */
export const elemCode = (elem: ElemType): number => ELEM[elem];

/** A dimension: a fixed size or a symbolic name such as "batch_size". */
export type Dim = number | string;

/** A tagged float so attributes like `epsilon: float(1e-5)` are never mistaken for ints. */
export interface FloatAttr {
  readonly float: number;
}
export const float = (value: number): FloatAttr => ({ float: value });
export type AttrValue = number | number[] | string | FloatAttr;

/**
 * How attention is written: 'fused' as onnxruntime's com.microsoft MultiHeadAttention contrib op (CPU: blocked
 * flash-style kernel that never holds the [B, H, Lq, Lk] scores; CUDA and WebGPU kernels too), 'plain' as
 * MatMul/Softmax/MatMul for runtimes or providers without that op (torch.onnx's and Optimum's form).
 */
export type AttentionForm = 'fused' | 'plain';
/** The contrib-op domain and the version of it MultiHeadAttention needs. */
export const MS_DOMAIN = 'com.microsoft';

function attribute(name: string, value: AttrValue): IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if (typeof value === 'number') return { name, type: T.INT, i: value };
  return { name, type: T.FLOAT, f: value.float };
}

function valueInfo(name: string, elem: ElemType, dims: readonly Dim[]): IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType: ELEM[elem], shape: { dim } } } };
}

/** Little-endian bytes of float values in the given float type. */
export function floatBytes(elem: FloatElem, values: ArrayLike<number>): Uint8Array {
  if (elem === 'float32') {
    const f = Float32Array.from(values);
    return new Uint8Array(f.buffer);
  }
  return new Uint8Array(toFloat16Array(Float32Array.from(values)).buffer);
}

/** Graph under construction. Parameters come from a WeightSource; helper constants are always inline. */
export class Graph {
  private readonly nodes: INodeProto[] = [];
  private readonly initializers: ITensorProto[] = [];
  private readonly inputs: IValueInfoProto[] = [];
  private readonly outputs: IValueInfoProto[] = [];
  private readonly constants = new Map<string, string>();
  private counter = 0;
  private usesMsDomain = false;

  /** `float`: the element type activations, parameters and graph float inputs/outputs use. */
  constructor(
    readonly name: string,
    readonly weights: WeightSource,
    readonly float: FloatElem = 'float32',
    readonly attention: AttentionForm = 'fused',
  ) {}

  input(name: string, elem: ElemType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, elem, dims));
    return name;
  }

  /** Exposes `value` as graph output `name` (through Identity, so any internal value can be named freely). */
  output(name: string, value: string, elem: ElemType, dims: readonly Dim[]): void {
    this.nodes.push({ opType: 'Identity', input: [value], output: [name], name: `output_${name}` });
    this.outputs.push(valueInfo(name, elem, dims));
  }

  /** Adds one node and returns its outputs' names ("" marks an omitted optional input). */
  opN(opType: string, inputs: readonly string[], outputs: number, attrs: Record<string, AttrValue> = {}): string[] {
    const id = this.counter++;
    const names = Array.from({ length: outputs }, (_, i) => `${opType}_${id}${outputs > 1 ? `_${i}` : ''}`);
    this.nodes.push({
      opType,
      name: `${opType}_${id}`,
      input: [...inputs],
      output: names,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return names;
  }

  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}): string {
    return this.opN(opType, inputs, 1, attrs)[0] as string;
  }

  /** One node of onnxruntime's com.microsoft contrib domain (the model then imports that domain). */
  msOp(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}): string {
    const out = this.op(opType, inputs, attrs);
    (this.nodes[this.nodes.length - 1] as INodeProto).domain = MS_DOMAIN;
    this.usesMsDomain = true;
    return out;
  }

  /** Casts `x` to `elem` (no node when the graph already computes in that type and `from` says so). */
  cast(x: string, elem: ElemType, from?: ElemType): string {
    return from === elem ? x : this.op('Cast', [x], { to: ELEM[elem] });
  }

  /** A parameter named like the diffusers/transformers state dict entry, in the graph's layout `dims`. */
  param(name: string, dims: readonly number[], init: Init, layout: ParamLayout = 'same'): string {
    this.initializers.push(this.weights.tensor({ name, dims, init, layout, elem: this.float }));
    return name;
  }

  /** An inline constant, shared between all users of the same value. */
  constant(elem: FloatElem | 'int64', dims: readonly number[], values: readonly number[]): string {
    const key = `${elem}:${dims.join('x')}:${values.join(',')}`;
    const known = this.constants.get(key);
    if (known !== undefined) return known;
    const name = `const_${this.constants.size}`;
    const rawData = elem === 'int64' ? new Uint8Array(BigInt64Array.from(values, (v) => BigInt(v)).buffer) : floatBytes(elem, values);
    this.initializers.push({ name, dims: [...dims], dataType: ELEM[elem], rawData });
    this.constants.set(key, name);
    return name;
  }

  /** A 1-D int64 constant (shapes, axes, slice bounds). */
  ints(values: readonly number[]): string {
    return this.constant('int64', [values.length], values);
  }

  /** A scalar constant in the graph's float type. */
  scalar(value: number): string {
    return this.constant(this.float, [], [value]);
  }

  /** A large constant in the graph's float type (e.g. the causal mask); not counted as a parameter. */
  floats(dims: readonly number[], values: Float32Array): string {
    const name = `const_${this.constants.size}`;
    this.constants.set(`${this.float}:${dims.join('x')}:${name}`, name); // keeps the const_N numbering unique
    this.initializers.push({ name, dims: [...dims], dataType: ELEM[this.float], rawData: floatBytes(this.float, values) });
    return name;
  }

  /** Serialises the model; external tensors must already be on disk beside `path`. */
  save(path: string, producerName: string, producerVersion: string): number {
    const bytes = onnx.ModelProto.encode({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }, ...(this.usesMsDomain ? [{ domain: MS_DOMAIN, version: 1 }] : [])],
      producerName,
      producerVersion,
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    }).finish();
    writeFileSync(path, bytes);
    return bytes.length;
  }
}
