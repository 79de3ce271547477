// Jest environment for tests that call onnxruntime-node: its native addon creates output arrays in Node's own realm,
// and onnxruntime-common (loaded inside the test's vm context) rejects them with `instanceof` against the context's
// Float32Array. Sharing the host's typed array constructors makes both sides agree.
import { TestEnvironment } from 'jest-environment-node';

const TYPED_ARRAYS = [
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
  'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

export default class HostTypedArraysEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of TYPED_ARRAYS) this.global[name] = globalThis[name];
  }
}
