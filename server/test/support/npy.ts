// Reads the .npy arrays of the parity fixtures (numpy format 1.0, little-endian float32 / int64, C order).
import { readFileSync } from 'node:fs';

export interface NpyArray {
  shape: number[];
  data: Float32Array | BigInt64Array;
}

export function readNpy(path: string): NpyArray {
  const bytes = readFileSync(path);
  if (bytes.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${path}: not a .npy file`);
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.toString('latin1', 10, 10 + headerLength);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').filter((s) => s.trim()).map(Number);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${path}: Fortran order is not supported`);
  const body = bytes.subarray(10 + headerLength);
  const copy = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
  if (descr === '<f4') return { shape, data: new Float32Array(copy) };
  if (descr === '<i8') return { shape, data: new BigInt64Array(copy) };
  throw new Error(`${path}: dtype ${descr} is not supported`);
}

export function readNpyFloat32(path: string): Float32Array {
  const { data } = readNpy(path);
  if (!(data instanceof Float32Array)) throw new Error(`${path}: not float32`);
  return data;
}
