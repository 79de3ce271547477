// The protobuf request decoder (kubectl 1.32 `create`/`run` bodies) on hand-made bodies: bad input is a 400.
import { describe, expect, it } from '@jest/globals';
import { decodeProtobuf } from '../src/protobuf.js';
import { at, objectOr } from '../src/types.js';

const varint = (n: bigint): Buffer => {
  const out: number[] = [];
  do {
    out.push(Number(n & 0x7fn) | (n > 0x7fn ? 0x80 : 0));
    n >>= 7n;
  } while (n > 0n);
  return Buffer.from(out);
};
const field = (num: number, body: Buffer | string) => {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([varint(BigInt((num << 3) | 2)), varint(BigInt(b.length)), b]);
};
const entry = (k: string, v: string) => Buffer.concat([field(1, k), field(2, v)]);
/** "k8s\0" + runtime.Unknown{typeMeta v1/Namespace, raw: Namespace{metadata}} */
const namespaceBody = (meta: Buffer) =>
  Buffer.concat([Buffer.from('k8s\0', 'latin1'), field(1, Buffer.concat([field(1, 'v1'), field(2, 'Namespace')])), field(2, field(1, meta))]);

describe('protobuf request bodies', () => {
  it('decodes metadata with labels, keeping a "__proto__" key as data', () => {
    const obj = decodeProtobuf(namespaceBody(Buffer.concat([field(1, 'team-a'), field(11, entry('env', 'prod')), field(11, entry('__proto__', 'x'))])));
    expect(at(obj, 'metadata', 'name')).toBe('team-a');
    expect(Object.entries(objectOr(at(obj, 'metadata', 'labels')))).toEqual([['env', 'prod'], ['__proto__', 'x']]);
  });

  it('answers 400, not a crash, for a time out of range and a truncated fixed-width field', () => {
    const hugeTime = field(8, Buffer.concat([varint(1n << 3n), varint(1n << 60n)]));
    expect(() => decodeProtobuf(namespaceBody(Buffer.concat([field(1, 'a'), hugeTime])))).toThrow(expect.objectContaining({ code: 400, message: expect.stringContaining('time out of range') }));
    // A label map entry whose extra field 3 is fixed64 (wire type 1) with only 3 of its 8 bytes.
    const truncated = Buffer.concat([field(1, 'a'), field(11, Buffer.concat([entry('k', 'v'), varint(BigInt((3 << 3) | 1)), Buffer.from([1, 2, 3])]))]);
    expect(() => decodeProtobuf(namespaceBody(truncated))).toThrow(expect.objectContaining({ code: 400, message: expect.stringContaining('truncated') }));
  });
});
