// Reads safetensors files (huggingface/safetensors format: u64 little-endian header length, JSON header, raw
// little-endian tensor data) tensor by tensor, after validating the whole header against the file's size.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { SafetensorsError } from './errors.js';

/** Bytes per element of every dtype the format defines (so any valid file opens, whatever it holds). */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

/** The reference implementation refuses headers above 100 MB; so do we, before allocating anything. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Absolute byte range in the file. */
  readonly start: number;
  readonly end: number;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** An open safetensors file: the parsed header, and reads of single tensors' bytes. */
export class SafetensorsFile {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
    tensors: Map<string, TensorInfo>,
    metadata: Record<string, string>,
  ) {
    this.fd = fd;
    this.tensors = tensors;
    this.metadata = metadata;
  }

  /** Opens and validates `path`; every problem is a SafetensorsError naming the file. */
  static open(path: string): SafetensorsFile {
    const fd = openSync(path, 'r');
    try {
      const { tensors, metadata } = readHeader(path, fd);
      return new SafetensorsFile(path, fd, tensors, metadata);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  private handle(): number {
    if (this.fd === undefined) throw new Error(`${this.path} is closed`);
    return this.fd;
  }

  /** The raw bytes of one tensor. */
  read(info: TensorInfo): Uint8Array {
    const out = new Uint8Array(info.end - info.start);
    this.readInto(out, info.start);
    return out;
  }

  /** The raw bytes of one tensor in chunks of at most `chunkBytes` (a multiple of the element size). */
  readChunks(info: TensorInfo, chunkBytes: number, sink: (chunk: Uint8Array) => void): void {
    const buffer = new Uint8Array(Math.min(chunkBytes, Math.max(1, info.end - info.start)));
    for (let at = info.start; at < info.end; ) {
      const n = Math.min(buffer.length, info.end - at);
      const view = buffer.subarray(0, n);
      this.readInto(view, at);
      sink(view);
      at += n;
    }
  }

  private readInto(out: Uint8Array, position: number): void {
    const fd = this.handle();
    for (let done = 0; done < out.length; ) {
      const n = readSync(fd, out, done, out.length - done, position + done);
      if (n === 0) throw new SafetensorsError(this.path, `file ended at byte ${position + done} inside tensor data (truncated?)`);
      done += n;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function readHeader(path: string, fd: number): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  const size = fstatSync(fd).size;
  if (size < 8) throw new SafetensorsError(path, `${size} bytes, shorter than the 8-byte header length`);
  const prefix = Buffer.alloc(8);
  readSync(fd, prefix, 0, 8, 0);
  const n = headerLength(path, size, prefix);
  const text = Buffer.alloc(n);
  if (readSync(fd, text, 0, n, 8) !== n) throw new SafetensorsError(path, 'short read of the header');
  return parseHeader(path, size, text);
}

/** The JSON header's length from a file's first 8 bytes, checked against the file's size (`path` names it in errors). */
export function headerLength(path: string, size: number, prefix: Uint8Array): number {
  if (size < 8 || prefix.length < 8) throw new SafetensorsError(path, `${size} bytes, shorter than the 8-byte header length`);
  const headerBytes = Buffer.from(prefix.buffer, prefix.byteOffset, 8).readBigUInt64LE(0);
  if (headerBytes > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(path, `header length ${headerBytes} exceeds ${MAX_HEADER_BYTES} bytes`);
  const n = Number(headerBytes);
  if (8 + n > size) throw new SafetensorsError(path, `header length ${n} runs past the end of the ${size}-byte file (truncated?)`);
  return n;
}

/**
 * Validates a header (the `headerLength` bytes after the first 8) against a file of `size` bytes: every tensor's
 * dtype, shape and data range, and that they fit in the file and do not overlap.
 */
export function parseHeader(path: string, size: number, text: Uint8Array): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  const fail = (problem: string): never => {
    throw new SafetensorsError(path, problem);
  };
  const n = text.length;
  if (text[0] !== 0x7b) fail('header does not start with "{"');
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(text.buffer, text.byteOffset, n).toString('utf8'));
  } catch (error) {
    fail(`header is not JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');

  const dataStart = 8 + n;
  const dataBytes = size - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || !Object.values(entry).every((v) => typeof v === 'string')) {
        fail('__metadata__ must map strings to strings');
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    if (typeof entry !== 'object' || entry === null) fail(`tensor "${name}" has no description`);
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    const width = typeof dtype === 'string' ? DTYPE_BYTES[dtype] : undefined;
    if (width === undefined) fail(`tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isCount)) fail(`tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      fail(`tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) fail(`tensor "${name}" has data_offsets [${begin}, ${end}] in the wrong order`);
    if (end > dataBytes) fail(`tensor "${name}" ends at data byte ${end}, past the ${dataBytes} bytes of data (truncated?)`);
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    if (elements * (width as number) !== end - begin) {
      fail(`tensor "${name}" is ${dtype as string} ${JSON.stringify(shape)} (${elements * (width as number)} bytes) but spans ${end - begin} bytes`);
    }
    tensors.set(name, { name, dtype: dtype as string, shape: shape as number[], start: dataStart + begin, end: dataStart + end });
  }
  // Tensors may not overlap (the format also requires them to tile the data; we only need them disjoint).
  const sorted = [...tensors.values()].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1] as TensorInfo;
    const cur = sorted[i] as TensorInfo;
    if (cur.start < prev.end) fail(`tensors "${prev.name}" and "${cur.name}" overlap`);
  }
  return { tensors, metadata };
}
