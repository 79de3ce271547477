// torch's CPU generator, bit for bit: `torch.Generator("cpu").manual_seed(seed)` then `torch.randn(shape)` in float32
// (torch 1.13 CPUGeneratorImpl + at::mt19937, uniform_real_distribution, normal_fill_AVX2 with avx_mathfun.h's
// log256_ps / sincos256_ps for numel >= 16, normal_distribution<double> for smaller tensors). The one noise source of
// the product: image i of a request draws from its own generator seeded (seed + i) mod 2^32, as diffusers users do.

const f32 = Math.fround;
const N = 624;
const M = 397;

/** at::mt19937 (Matsumoto & Nishimura's MT19937, init_genrand seeding). */
class Mt19937 {
  private readonly state = new Uint32Array(N);
  private index = N;

  constructor(seed: number) {
    const s = this.state;
    s[0] = seed >>> 0;
    for (let j = 1; j < N; j++) {
      const prev = s[j - 1]!;
      s[j] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + j) >>> 0;
    }
  }

  next(): number {
    const s = this.state;
    if (this.index >= N) {
      for (let k = 0; k < N; k++) {
        const y = (s[k]! & 0x80000000) | (s[(k + 1) % N]! & 0x7fffffff);
        s[k] = s[(k + M) % N]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.index = 0;
    }
    let y = s[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }
}

// avx_mathfun.h constants (Cephes single precision), rounded to float32 as the C initialisers are.
const SQRTHF = f32(0.7071067811865476); // 0.707106781186547524 in the C source
const LOG_P = [7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1].map(f32);
const LOG_Q1 = f32(-2.1219444e-4);
const LOG_Q2 = f32(0.693359375);
const DP1 = f32(-0.78515625);
const DP2 = f32(-2.4187564849853515625e-4);
const DP3 = f32(-3.774894977445941e-8); // -3.77489497744594108e-8 in the C source
const SINCOF = [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1].map(f32);
const COSCOF = [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2].map(f32);
const FOPI = f32(1.27323954473516);
const TWO_PI = f32(2 * Math.PI);

const wide = new Float64Array(1);
const wideBits = new BigInt64Array(wide.buffer);

/**
 * fmaf(a, b, c) for float32 a, b, c: the product is exact in double, the sum's rounding error comes from TwoSum,
 * and rounding the double sum to odd before rounding to float32 makes the result correctly rounded.
 */
function fma(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const v = s - p;
  const err = p - (s - v) + (c - v);
  if (err === 0 || !Number.isFinite(s)) return f32(s);
  wide[0] = s;
  if ((wideBits[0]! & 1n) === 0n) wideBits[0] = wideBits[0]! + ((err > 0) === (s > 0) ? 1n : -1n);
  return f32(wide[0]);
}

const bits = new DataView(new ArrayBuffer(4));
function floatBits(x: number): number {
  bits.setFloat32(0, x, true);
  return bits.getUint32(0, true);
}
function bitsFloat(b: number): number {
  bits.setUint32(0, b >>> 0, true);
  return bits.getFloat32(0, true);
}

// GCC (-mfma, -ffp-contract=fast, as torch's AVX2 kernels are built) fuses every _mm256_mul_ps whose only use is the
// next add/sub into one FMA (the first multiplication in source order when both operands are products). The fused
// steps below are those; with plain mul + add instead, 46 of the 4,432 listed values of torch_randn.json are 1-2 ulp off
// and 17 of its 20 checksums fail.

/** log256_ps for one lane, x in (0, 1]: every step a float32 operation, in the order the intrinsics run. */
function log256(input: number): number {
  const xb = floatBits(Math.max(input, 1.1754943508222875e-38));
  const exponent = (xb >>> 23) - 0x7f;
  let x = bitsFloat((xb & ~0x7f800000) | floatBits(0.5));
  let e = f32(exponent + 1);
  const below = x < SQRTHF;
  const tmp = below ? x : 0;
  x = f32(x - 1);
  e = f32(e - (below ? 1 : 0));
  x = f32(x + tmp);
  const z = f32(x * x);
  let y = LOG_P[0]!;
  for (let k = 1; k < LOG_P.length; k++) y = fma(y, x, LOG_P[k]!);
  y = f32(y * x);
  y = fma(y, z, f32(e * LOG_Q1));
  y = fma(-z, 0.5, y);
  x = f32(x + y);
  return fma(e, LOG_Q2, x);
}

/** sincos256_ps for one lane, x >= 0 here (theta = 2 pi u). */
function sincos256(input: number): [sin: number, cos: number] {
  const sinSign = input < 0 || Object.is(input, -0) ? -1 : 1;
  let x = Math.abs(input);
  let j = Math.trunc(f32(x * FOPI));
  j = (j + 1) & ~1;
  const y0 = f32(j);
  const swapSin = (j & 4) !== 0;
  const polyCos = (j & 2) === 0; // poly_mask: lanes whose sine is the sine polynomial
  x = fma(y0, DP1, x);
  x = fma(y0, DP2, x);
  x = fma(y0, DP3, x);
  const cosNegative = ((~(j - 2)) & 4) !== 0;
  const z = f32(x * x);
  let y = COSCOF[0]!;
  y = fma(y, z, COSCOF[1]!);
  y = fma(y, z, COSCOF[2]!);
  y = f32(y * z);
  y = fma(y, z, -f32(z * 0.5));
  y = f32(y + 1);
  let y2 = SINCOF[0]!;
  y2 = fma(y2, z, SINCOF[1]!);
  y2 = fma(y2, z, SINCOF[2]!);
  y2 = f32(y2 * z);
  y2 = fma(y2, x, x);
  // ysin2 = poly ? y2 : 0, ysin1 = poly ? 0 : y; sin = ysin1 + ysin2, cos = (y - ysin1) + (y2 - ysin2).
  const sinValue = polyCos ? f32(0 + y2) : f32(y + 0);
  const cosValue = polyCos ? f32(y + 0) : f32(0 + y2);
  const sinSigned = (sinSign < 0) !== swapSin ? -sinValue : sinValue;
  return [sinSigned, cosNegative ? -cosValue : cosValue];
}

/** normal_fill_16_AVX2 (mean 0, std 1) on data[offset .. offset + 16) holding uniforms in [0, 1). */
function normalFill16(data: Float32Array, offset: number): void {
  for (let j = 0; j < 8; j++) {
    const u1 = f32(1 - data[offset + j]!);
    const u2 = data[offset + j + 8]!;
    const radius = f32(Math.sqrt(f32(-2 * log256(u1))));
    const [sin, cos] = sincos256(f32(TWO_PI * u2));
    // fmadd(n, std = 1, mean = 0) is n + 0 (a -0 becomes +0, as in the FPU).
    data[offset + j] = f32(radius * cos) + 0;
    data[offset + j + 8] = f32(radius * sin) + 0;
  }
}

export class TorchGenerator {
  private engine: Mt19937;
  /** normal_distribution<double>'s cached second Box-Muller value (CPUGeneratorImpl::next_double_normal_sample). */
  private nextDoubleNormal: number | undefined;

  /** torch.Generator('cpu').manual_seed(seed): any non-negative safe integer; mt19937 keeps seed mod 2^32. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`seed must be a non-negative safe integer, got ${seed}`);
    this.engine = new Mt19937(seed % 2 ** 32);
  }

  /** CPUGeneratorImpl::random(): the next 32-bit output. */
  random(): number {
    return this.engine.next();
  }

  /** uniform_real_distribution<double>(0, 1): 53 bits of random64() (first output is the high word). */
  private uniformDouble(): number {
    const hi = this.random();
    const lo = this.random();
    return ((hi & 0x1fffff) * 2 ** 32 + lo) / 2 ** 53;
  }

  /** torch.randn(shape, generator=this) in float32, row-major. */
  randn(shape: readonly number[]): Float32Array {
    const numel = shape.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(numel) || numel < 0) throw new Error(`bad shape [${shape.join(', ')}]`);
    const data = new Float32Array(numel);
    if (numel >= 16) {
      for (let i = 0; i < numel; i++) data[i] = (this.random() & 0xffffff) / 2 ** 24;
      for (let i = 0; i + 16 <= numel; i += 16) normalFill16(data, i);
      if (numel % 16 !== 0) {
        // torch recomputes the last 16 values from 16 fresh uniforms.
        const start = numel - 16;
        for (let i = 0; i < 16; i++) data[start + i] = (this.random() & 0xffffff) / 2 ** 24;
        normalFill16(data, start);
      }
      return data;
    }
    for (let i = 0; i < numel; i++) data[i] = this.normalDouble();
    return data;
  }

  /** at::normal_distribution<double>: Box-Muller in double, the sine half cached for the next call. */
  private normalDouble(): number {
    if (this.nextDoubleNormal !== undefined) {
      const cached = this.nextDoubleNormal;
      this.nextDoubleNormal = undefined;
      return cached;
    }
    const u1 = this.uniformDouble();
    const u2 = this.uniformDouble();
    // torch_randn.json's spec writes log1p(-u2); older torch wrote log(1 - u2): equal once rounded to float32 but rarely.
    const r = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    this.nextDoubleNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}
