// Writes safetensors files (huggingface/safetensors format) tensor by tensor: the header is computed from the
// shapes first, then each tensor's bytes are streamed, so multi-GB checkpoints never sit in memory.
import { closeSync, openSync, writeSync } from 'node:fs';

const WIDTH: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 };

export interface TensorToWrite {
  readonly name: string;
  readonly dtype: 'F32' | 'F16' | 'BF16' | 'I64' | 'I32';
  readonly shape: readonly number[];
  /** Calls sink with the tensor's little-endian bytes, in order, in as many chunks as it likes. */
  readonly write: (sink: (chunk: Uint8Array) => void) => void;
}

/** Writes `tensors` to `path` in the given order; returns the file's size. */
export function writeSafetensors(path: string, tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): number {
  const header: Record<string, unknown> = Object.keys(metadata).length > 0 ? { __metadata__: metadata } : {};
  let offset = 0;
  const sizes = tensors.map((t) => {
    const width = WIDTH[t.dtype];
    if (width === undefined) throw new Error(`${t.name}: dtype ${t.dtype} is not written`);
    const bytes = t.shape.reduce((a, b) => a * b, 1) * width;
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
    return bytes;
  });
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // data starts 8-byte aligned, as the reference writer pads
  const text = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(text.length));
  const fd = openSync(path, 'w');
  try {
    const put = (bytes: Uint8Array): void => {
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
    };
    put(prefix);
    put(text);
    tensors.forEach((t, i) => {
      let written = 0;
      t.write((chunk) => {
        put(chunk);
        written += chunk.length;
      });
      if (written !== sizes[i]) throw new Error(`${t.name}: wrote ${written} bytes, expected ${sizes[i]}`);
    });
  } finally {
    closeSync(fd);
  }
  return 8 + text.length + offset;
}

/** A tensor whose bytes are already in memory. */
export const inMemory = (name: string, dtype: TensorToWrite['dtype'], shape: readonly number[], data: ArrayBufferView): TensorToWrite => ({
  name,
  dtype,
  shape,
  write: (sink) => sink(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)),
});
