// Deterministic random weights (a WeightSource for the product's graph builders), written inline (raw_data) or
// streamed to an ONNX external data file.
import { toFloat16Array } from '@hypergen/server/engine/pipeline/tensors.js';
import { TensorPlacer } from '@hypergen/server/convert/external-data.js';
import type { Init, ParamRequest, WeightSource } from '@hypergen/server/convert/weight-source.js';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** FNV-1a over the UTF-16 code units, then a murmur finaliser: a 32-bit seed per tensor name. */
export function hashSeed(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// Bound once: global lookups in the hot loop are slow inside vm contexts (jest), ~50x here.
const imul = Math.imul;

/** mulberry32: tiny, fast, and identical on every platform (integer arithmetic only). */
function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = imul(a ^ (a >>> 15), 1 | a);
    t = (t + imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CHUNK = 1 << 20; // elements generated per write, so multi-GB tensors never sit in memory whole

/** Little-endian float16 bytes of float32 values (the engine's round-to-nearest-even conversion). */
export function halfBytes(values: Float32Array): Uint8Array {
  return new Uint8Array(toFloat16Array(values).buffer);
}

/** Fills `count` float32 values chunk by chunk; each tensor has its own stream so values do not depend on order. */
export function generate(seedText: string, count: number, init: Init, sink: (chunk: Float32Array) => void): void {
  const next = mulberry32(hashSeed(seedText));
  const half = Math.sqrt(3) * init.std; // uniform(-half, half) has this standard deviation
  for (let done = 0; done < count; done += CHUNK) {
    const chunk = new Float32Array(Math.min(CHUNK, count - done));
    for (let i = 0; i < chunk.length; i++) chunk[i] = init.center + (2 * next() - 1) * half;
    sink(chunk);
  }
}

export interface WeightStoreOptions {
  /** Mixed into every tensor's stream: same seed, same bytes. */
  readonly seed: string;
  /** Absolute path of the external data file; absent: every tensor is inline. */
  readonly externalPath?: string;
  /** File name recorded in the model (relative to model.onnx). */
  readonly externalLocation?: string;
  /** Tensors of at least this many bytes go to the external file. */
  readonly externalMinBytes?: number;
  /** Only count parameters: tensors carry no data (for sizing multi-GB presets without writing them). */
  readonly countOnly?: boolean;
}

/** Turns named parameters into TensorProtos of random values (float32, or float16 where the graph computes in it), streaming large ones to the external data file. */
export class WeightStore implements WeightSource {
  private readonly placer: TensorPlacer;
  parameters = 0;

  constructor(private readonly options: WeightStoreOptions) {
    const { externalPath, externalLocation = 'model.onnx_data', externalMinBytes = 1024 } = options;
    this.placer = new TensorPlacer(externalPath === undefined ? {} : { path: externalPath, location: externalLocation, minBytes: externalMinBytes });
  }

  tensor({ name, dims, init, elem }: ParamRequest): onnxProto.onnx.ITensorProto {
    const count = dims.reduce((a, b) => a * b, 1);
    this.parameters += count;
    const half = elem === 'float16';
    const base = { name, dims: [...dims], dataType: half ? onnx.TensorProto.DataType.FLOAT16 : onnx.TensorProto.DataType.FLOAT };
    if (this.options.countOnly === true) return base;
    // float16: the same float32 draws, rounded (so an fp16 folder is the fp32 one in half precision).
    return this.placer.place(base, count * (half ? 2 : 4), (sink) =>
      generate(`${this.options.seed}/${name}`, count, init, (chunk) => sink(half ? halfBytes(chunk) : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))),
    );
  }

  /** Bytes written to the external file so far. */
  get externalBytes(): number {
    return this.placer.externalBytes;
  }

  close(): void {
    this.placer.close();
  }
}
