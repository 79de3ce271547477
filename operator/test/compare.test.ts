import { describe, expect, it } from '@jest/globals';
import { isSubset, quantityValue } from '../src/kube/compare.js';

describe('drift comparison', () => {
  it('ignores fields the server adds', () => {
    expect(isSubset({ spec: { a: 1 } }, { spec: { a: 1, defaulted: 'x' }, status: {} })).toBe(true);
  });
  it('detects changed values, missing fields and list length changes', () => {
    expect(isSubset({ a: 1 }, { a: 2 })).toBe(false);
    expect(isSubset({ a: { b: 1 } }, {})).toBe(false);
    expect(isSubset({ env: [{ name: 'A' }] }, { env: [{ name: 'A' }, { name: 'B' }] })).toBe(false);
    expect(isSubset({ env: [{ name: 'A' }] }, { env: [{ name: 'A', value: '' }] })).toBe(true);
  });
  it('compares resource quantities by value', () => {
    expect(isSubset({ limits: { cpu: '0.5' } }, { limits: { cpu: '500m' } })).toBe(true);
    expect(isSubset({ requests: { memory: '1Gi' } }, { requests: { memory: '1073741824' } })).toBe(true);
    expect(isSubset({ requests: { memory: '1Gi' } }, { requests: { memory: '1G' } })).toBe(false);
    expect(isSubset({ labels: { v: '0.5' } }, { labels: { v: '500m' } })).toBe(false);
    expect(quantityValue('2k')).toBe(2000);
    expect(quantityValue('abc')).toBeUndefined();
  });
});
