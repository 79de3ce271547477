// The safetensors reader refuses malformed files with a SafetensorsError naming the file; CheckpointWeights maps
// state-dict tensors into graph layouts and float types exactly (F32/F16/BF16 -> float32/float16).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { inMemory, writeSafetensors } from '../../../hack/src/models/safetensors-writer.js';
import { CheckpointWeights } from '../../src/convert/checkpoint-weights.js';
import { SafetensorsError, WeightMismatchError } from '../../src/convert/errors.js';
import { TensorPlacer } from '../../src/convert/external-data.js';
import { SafetensorsFile } from '../../src/convert/safetensors.js';
import type { ParamRequest } from '../../src/convert/weight-source.js';
import { fromFloat16Bits, toFloat16Bits } from '../../src/engine/pipeline/tensors.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'hypergen-safetensors-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A file from a raw header object and data bytes (for malformed cases the writer would never produce). */
function rawFile(name: string, header: unknown, data: Uint8Array = new Uint8Array(0), headerText = JSON.stringify(header)): string {
  const text = Buffer.from(headerText);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(text.length));
  const path = join(root, name);
  writeFileSync(path, Buffer.concat([prefix, text, data]));
  return path;
}

const bf16 = (v: number): number => new Uint32Array(Float32Array.of(v).buffer)[0]! >>> 16;

describe('SafetensorsFile', () => {
  it('reads the header, metadata and each tensor’s bytes', () => {
    const a = Float32Array.from([1, -2.5, 3, 4, 5, 6]);
    const ids = BigInt64Array.from([0n, 1n, 2n]);
    const path = join(root, 'ok.safetensors');
    writeSafetensors(path, [inMemory('a', 'F32', [2, 3], a), inMemory('position_ids', 'I64', [1, 3], ids)], { format: 'pt' });
    const file = SafetensorsFile.open(path);
    try {
      expect(file.metadata).toEqual({ format: 'pt' });
      expect([...file.tensors.keys()]).toEqual(['a', 'position_ids']);
      const info = file.tensors.get('a')!;
      expect(info).toMatchObject({ dtype: 'F32', shape: [2, 3] });
      expect(new Float32Array(file.read(info).buffer)).toEqual(a);
      const chunks: number[] = [];
      file.readChunks(info, 8, (c) => chunks.push(c.length));
      expect(chunks).toEqual([8, 8, 8]);
    } finally {
      file.close();
    }
  });

  const f32 = (n: number) => ({ dtype: 'F32', shape: [n], data_offsets: [0, 4 * n] });
  it.each([
    ['shorter than 8 bytes', () => {
      const p = join(root, 'tiny.safetensors');
      writeFileSync(p, Buffer.from([1, 2, 3]));
      return p;
    }, /shorter than the 8-byte header length/],
    ['header length past the end (truncated)', () => {
      const p = rawFile('trunc-header.safetensors', { a: f32(1) }, new Uint8Array(4));
      writeFileSync(p, readFileSync(p).subarray(0, 20));
      return p;
    }, /runs past the end .*truncated/],
    ['tensor data cut off (truncated)', () => rawFile('trunc-data.safetensors', { a: f32(4) }, new Uint8Array(8)), /ends at data byte 16, past the 8 bytes of data \(truncated\?\)/],
    ['a header over 100 MB', () => {
      const p = join(root, 'huge.safetensors');
      const prefix = Buffer.alloc(16);
      prefix.writeBigUInt64LE(200_000_000n);
      writeFileSync(p, prefix);
      return p;
    }, /exceeds 100000000 bytes/],
    ['a header that is not JSON', () => rawFile('notjson.safetensors', null, new Uint8Array(0), '{"a": {"dtype": "F32"'), /header is not JSON/],
    ['a header that does not open with {', () => rawFile('garbage.safetensors', null, new Uint8Array(0), '\u0000\u0001garbage'), /does not start with "\{"/],
    ['an unknown dtype', () => rawFile('dtype.safetensors', { a: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, new Uint8Array(16)), /unknown dtype "F128"/],
    ['a byte length that disagrees with dtype and shape', () => rawFile('len.safetensors', { a: { dtype: 'F16', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), /F16 \[3\] \(6 bytes\) but spans 8 bytes/],
    ['offsets in the wrong order', () => rawFile('order.safetensors', { a: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, new Uint8Array(4)), /wrong order/],
    ['overlapping tensors', () => rawFile('overlap.safetensors', { a: f32(2), b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)), /overlap/],
    ['a negative dimension', () => rawFile('shape.safetensors', { a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /invalid shape/],
  ])('refuses %s, naming the file', (_what, make, message) => {
    const path = make();
    let error: unknown;
    try {
      SafetensorsFile.open(path).close();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SafetensorsError);
    expect((error as SafetensorsError).file).toBe(path);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toMatch(message);
  });
});

describe('CheckpointWeights', () => {
  const { onnx } = onnxProto;
  const request = (name: string, dims: number[], layout: ParamRequest['layout'] = 'same', elem: ParamRequest['elem'] = 'float32'): ParamRequest => ({
    name,
    dims,
    layout,
    elem,
    init: { center: 0, std: 1 },
  });
  const values = (t: onnxProto.onnx.ITensorProto): number[] => {
    const raw = t.rawData!;
    if (t.dataType === onnx.TensorProto.DataType.FLOAT16) return [...new Uint16Array(raw.slice().buffer)].map(fromFloat16Bits);
    return [...new Float32Array(raw.slice().buffer)];
  };

  function open(name: string, tensors: Parameters<typeof writeSafetensors>[1]): SafetensorsFile {
    const path = join(root, name);
    writeSafetensors(path, tensors);
    return SafetensorsFile.open(path);
  }

  it('transposes Linear weights to [in, out], reshapes per-channel vectors and converts F16/BF16 exactly', () => {
    const linear = Float32Array.from([1, 2, 3, 4, 5, 6]); // torch [out 2, in 3]
    const half = [0.5, -1.25, 65504, 2 ** -24];
    const brain = [1.5, -3, 2 ** 100, -0.0078125];
    const file = open('map.safetensors', [
      inMemory('fc.weight', 'F32', [2, 3], linear),
      inMemory('norm.weight', 'F16', [4], Uint16Array.from(half, toFloat16Bits)),
      inMemory('emb.weight', 'BF16', [2, 2], Uint16Array.from(brain, bf16)),
      inMemory('text_model.embeddings.position_ids', 'I64', [1, 2], BigInt64Array.from([0n, 1n])),
    ]);
    const weights = new CheckpointWeights([file], new TensorPlacer(), { component: 'test' });
    expect(values(weights.tensor(request('fc.weight', [3, 2], 'linear')))).toEqual([1, 4, 2, 5, 3, 6]);
    const norm = weights.tensor(request('norm.weight', [4, 1, 1], 'channel'));
    expect(norm.dims).toEqual([4, 1, 1]);
    expect(values(norm)).toEqual(half);
    expect(values(weights.tensor(request('emb.weight', [2, 2])))).toEqual(brain);
    const report = weights.finish();
    expect(report.parameters).toBe(6 + 4 + 4);
    expect(report.unused).toEqual(['text_model.embeddings.position_ids']);
    expect(report.sourceDtypes).toEqual({ F32: 1, F16: 1, BF16: 1 });
    file.close();
  });

  it('writes float16 for fp16 graphs, clamping what float16 cannot hold and counting it', () => {
    const file = open('half.safetensors', [inMemory('w', 'F32', [4], Float32Array.from([1, -2, 1e6, -7e4]))]);
    const weights = new CheckpointWeights([file], new TensorPlacer(), { component: 'test' });
    const t = weights.tensor(request('w', [4], 'same', 'float16'));
    expect(t.dataType).toBe(onnx.TensorProto.DataType.FLOAT16);
    expect(values(t)).toEqual([1, -2, 65504, -65504]);
    expect(weights.finish().clamped).toBe(2);
    file.close();
  });

  it('streams large tensors to the external data file', () => {
    const n = 1000;
    const file = open('big.safetensors', [inMemory('big', 'F16', [n], Uint16Array.from({ length: n }, (_, i) => toFloat16Bits(i)))]);
    const placer = new TensorPlacer({ path: join(root, 'big.onnx_data'), location: 'big.onnx_data' });
    const weights = new CheckpointWeights([file], placer, { component: 'test' });
    const t = weights.tensor(request('big', [n]));
    placer.close();
    expect(t.rawData).toBeUndefined();
    expect(Object.fromEntries(t.externalData!.map((e) => [e.key, e.value]))).toEqual({ location: 'big.onnx_data', offset: '0', length: String(4 * n) });
    expect([...new Float32Array(Uint8Array.from(readFileSync(join(root, 'big.onnx_data'))).buffer)].slice(0, 3)).toEqual([0, 1, 2]);
    file.close();
  });

  it('names every missing or misshapen parameter, and finds deprecated names through aliases', () => {
    const file = open('partial.safetensors', [
      inMemory('a.weight', 'F32', [2, 2], new Float32Array(4)),
      inMemory('attn.query.weight', 'F32', [2, 2], new Float32Array(4)),
    ]);
    const weights = new CheckpointWeights([file], new TensorPlacer(), {
      component: 'vae_decoder',
      aliases: (name) => [name.replace('to_q', 'query')],
    });
    weights.tensor(request('a.weight', [3, 2], 'linear'));
    weights.tensor(request('attn.to_q.weight', [2, 2], 'linear'));
    weights.tensor(request('b.bias', [2]));
    let error: unknown;
    try {
      weights.finish();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WeightMismatchError);
    expect((error as WeightMismatchError).missing).toEqual(['b.bias']);
    expect((error as WeightMismatchError).misshapen).toEqual(['a.weight is F32 [2, 2], expected [2, 3]']);
    expect((error as Error).message).toMatch(/^vae_decoder: the checkpoint does not match its config.json: 1 missing \(b.bias\); 1 of another shape/);
    file.close();
  });
});
