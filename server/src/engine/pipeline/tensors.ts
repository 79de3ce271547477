// Tensors in the element types an export declares: float32 or float16 (Optimum's --fp16 exports), whose data
// onnxruntime-node holds as IEEE 754 half-precision bit patterns in a Uint16Array.
import ort from 'onnxruntime-node';

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** float -> binary16 bits, round to nearest even; overflow becomes infinity, tiny values subnormals or zero. */
export function toFloat16Bits(value: number): number {
  scratch[0] = value;
  const x = scratchBits[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}

/**
 * float32 values -> binary16 bits, bit for bit what toFloat16Bits gives, in one pass: the normal half range
 * (2^-14 <= |x| < 65536) by integer rounding on the float32 bit pattern (rebias the exponent, round the 13 dropped
 * mantissa bits to nearest even, as in F. Giesen's float_to_half_fast3_rtne); subnormals, overflow, infinities and
 * NaN per value. For multi-GB weight conversion, where a call per value dominates.
 */
export function toFloat16Array(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    const a = b & 0x7fffffff;
    // (a - (112 << 23) + 0xfff + odd) >>> 13, written as a wrapping add: >>> takes the sum modulo 2^32.
    out[i] = a >= 0x38800000 && a < 0x47800000 ? ((b >>> 16) & 0x8000) | ((a + 0xc8000fff + ((a >>> 13) & 1)) >>> 13) : toFloat16Bits(values[i]!);
  }
  return out;
}

export function fromFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

export function tensorMeta(session: ort.InferenceSession, name: string): ort.InferenceSession.TensorValueMetadata {
  const meta = session.inputMetadata.find((m) => m.name === name);
  if (!meta || !meta.isTensor) throw new Error(`ONNX model has no tensor input "${name}"`);
  return meta;
}

/** A float input in the type the session declares for it. */
export function floatTensor(session: ort.InferenceSession, name: string, data: Float32Array, dims: readonly number[]): ort.Tensor {
  const type = tensorMeta(session, name).type;
  if (type === 'float32') return new ort.Tensor('float32', data, dims);
  if (type === 'float16') return new ort.Tensor('float16', toFloat16Array(data), dims);
  throw new Error(`ONNX input "${name}" is ${type}; expected float32 or float16`);
}

/** A float output as float32, whatever precision the export computes in. */
export function float32Data(tensor: ort.Tensor | undefined, what: string): Float32Array {
  if (!tensor) throw new Error(`ONNX model has no output ${what}`);
  if (tensor.type === 'float32') return tensor.data as Float32Array;
  if (tensor.type === 'float16') {
    const data = tensor.data as ArrayLike<number>;
    // Uint16Array holds bit patterns; a runtime with Float16Array hands out values.
    return data instanceof Uint16Array ? Float32Array.from(data, fromFloat16Bits) : Float32Array.from(data);
  }
  throw new Error(`ONNX output ${what} is ${tensor.type}; expected float32 or float16`);
}
