// Reads the structure of an ONNX model file (onnx.proto3's ModelProto): graph inputs with their shapes, nodes with
// op type, inputs, outputs and integer attributes, and initializer dims. Weights are skipped, never decoded. Used to
// derive what an export without per-component config.json leaves out (diffusers' convert_stable_diffusion_checkpoint_to_onnx.py).
import { readFileSync } from 'node:fs';

export interface OnnxValueInfo {
  name: string;
  /** TensorProto.DataType: 1 float, 6 int32, 7 int64, 10 float16. */
  elemType: number;
  /** A number for a fixed dimension, a string for a symbolic one. */
  dims: (number | string)[];
}

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  /** Integer and integer-list attributes (e.g. Conv strides). */
  ints: Record<string, number[]>;
}

export interface OnnxGraph {
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  nodes: OnnxNode[];
  /** Initializer name -> dims. */
  initializers: Map<string, number[]>;
}

interface Field {
  field: number;
  wire: number;
  /** Varint / fixed value (wire 0, 1, 5). */
  value: number;
  /** Length-delimited payload (wire 2). */
  start: number;
  end: number;
}

class Reader {
  constructor(
    readonly buf: Buffer,
    private pos: number,
    private readonly end: number,
  ) {}

  private varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated protobuf varint');
      const byte = this.buf[this.pos++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
  }

  *fields(): Generator<Field> {
    while (this.pos < this.end) {
      const key = this.varint();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (wire === 0) {
        yield { field, wire, value: this.varint(), start: 0, end: 0 };
      } else if (wire === 2) {
        const length = this.varint();
        const start = this.pos;
        this.pos += length;
        if (this.pos > this.end) throw new Error('truncated protobuf field');
        yield { field, wire, value: 0, start, end: this.pos };
      } else if (wire === 1 || wire === 5) {
        this.pos += wire === 1 ? 8 : 4;
        yield { field, wire, value: 0, start: 0, end: 0 };
      } else {
        throw new Error(`unsupported protobuf wire type ${wire}`);
      }
    }
  }

  sub(f: Field): Reader {
    return new Reader(this.buf, f.start, f.end);
  }

  text(f: Field): string {
    return this.buf.toString('utf8', f.start, f.end);
  }

  /** A repeated int64 field: packed (wire 2) or one value per field (wire 0); small values only. */
  ints(f: Field, into: number[]): void {
    if (f.wire === 0) {
      into.push(f.value > 2 ** 63 ? f.value - 2 ** 64 : f.value);
      return;
    }
    const packed = this.sub(f);
    while (packed.pos < packed.end) into.push(packed.varint());
  }
}

function valueInfo(r: Reader): OnnxValueInfo {
  const info: OnnxValueInfo = { name: '', elemType: 0, dims: [] };
  for (const f of r.fields()) {
    if (f.field === 1) info.name = r.text(f);
    if (f.field !== 2) continue;
    const type = r.sub(f);
    for (const t of type.fields()) {
      if (t.field !== 1) continue; // tensor_type
      const tensor = type.sub(t);
      for (const x of tensor.fields()) {
        if (x.field === 1) info.elemType = x.value;
        if (x.field !== 2) continue;
        const shape = tensor.sub(x);
        for (const d of shape.fields()) {
          if (d.field !== 1) continue;
          const dim = shape.sub(d);
          let value: number | string = '?';
          for (const v of dim.fields()) {
            if (v.field === 1) value = v.value;
            if (v.field === 2) value = dim.text(v);
          }
          info.dims.push(value);
        }
      }
    }
  }
  return info;
}

function node(r: Reader): OnnxNode {
  const out: OnnxNode = { opType: '', inputs: [], outputs: [], ints: {} };
  for (const f of r.fields()) {
    if (f.field === 1) out.inputs.push(r.text(f));
    else if (f.field === 2) out.outputs.push(r.text(f));
    else if (f.field === 4) out.opType = r.text(f);
    else if (f.field === 5) {
      const attr = r.sub(f);
      let name = '';
      const values: number[] = [];
      for (const a of attr.fields()) {
        if (a.field === 1) name = attr.text(a);
        if (a.field === 3 || a.field === 8) attr.ints(a, values);
      }
      if (values.length > 0) out.ints[name] = values;
    }
  }
  return out;
}

/** Parses the graph of an ONNX file (external-data weights are not read; inline ones are skipped). */
export function readOnnxGraph(path: string): OnnxGraph {
  const buf = readFileSync(path);
  const graph: OnnxGraph = { inputs: [], outputs: [], nodes: [], initializers: new Map() };
  const model = new Reader(buf, 0, buf.length);
  for (const m of model.fields()) {
    if (m.field !== 7 || m.wire !== 2) continue; // ModelProto.graph
    const g = model.sub(m);
    for (const f of g.fields()) {
      if (f.field === 1) graph.nodes.push(node(g.sub(f)));
      else if (f.field === 11) graph.inputs.push(valueInfo(g.sub(f)));
      else if (f.field === 12) graph.outputs.push(valueInfo(g.sub(f)));
      else if (f.field === 5) {
        const tensor = g.sub(f);
        const dims: number[] = [];
        let name = '';
        for (const t of tensor.fields()) {
          if (t.field === 1) tensor.ints(t, dims);
          if (t.field === 8) name = tensor.text(t);
        }
        graph.initializers.set(name, dims);
      }
    }
  }
  if (graph.nodes.length === 0) throw new Error(`${path}: no ONNX graph found`);
  return graph;
}
