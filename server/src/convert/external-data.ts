// Places tensor bytes into an ONNX model: inline raw_data for small tensors, or appended to one external data file
// (ONNX external data: location/offset/length, the layout Optimum and torch.onnx use for models over 2 GB).
import { closeSync, openSync, writeSync } from 'node:fs';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export interface ExternalDataOptions {
  /** Absolute path of the external data file; absent: every tensor is inline. */
  readonly path?: string;
  /** File name recorded in the model (relative to model.onnx). */
  readonly location?: string;
  /** Tensors of at least this many bytes go to the external file. */
  readonly minBytes?: number;
}

/** A tensor's bytes, produced in chunks so a multi-GB tensor never needs to sit in memory whole. */
export type ChunkProducer = (sink: (chunk: Uint8Array) => void) => void;

export class TensorPlacer {
  private fd: number | undefined;
  private offset = 0;

  constructor(private readonly options: ExternalDataOptions = {}) {}

  /** Writes `byteLength` bytes from `produce` inline or to the external file; returns the finished TensorProto. */
  place(base: onnxProto.onnx.ITensorProto, byteLength: number, produce: ChunkProducer): onnxProto.onnx.ITensorProto {
    const { path, location = 'model.onnx_data', minBytes = 1024 } = this.options;
    if (path === undefined || byteLength < minBytes) {
      const raw = new Uint8Array(byteLength);
      let at = 0;
      produce((chunk) => {
        raw.set(chunk, at);
        at += chunk.length;
      });
      if (at !== byteLength) throw new Error(`tensor ${base.name}: produced ${at} bytes, expected ${byteLength}`);
      return { ...base, rawData: raw };
    }
    this.fd ??= openSync(path, 'w');
    const fd = this.fd;
    const start = this.offset;
    let written = 0;
    produce((chunk) => {
      for (let done = 0; done < chunk.length; ) done += writeSync(fd, chunk, done);
      written += chunk.length;
    });
    if (written !== byteLength) throw new Error(`tensor ${base.name}: produced ${written} bytes, expected ${byteLength}`);
    this.offset += byteLength;
    return {
      ...base,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: location },
        { key: 'offset', value: String(start) },
        { key: 'length', value: String(byteLength) },
      ],
    };
  }

  /** Bytes written to the external file so far. */
  get externalBytes(): number {
    return this.offset;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
