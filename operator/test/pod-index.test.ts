import { describe, expect, it } from '@jest/globals';
import { PodIndex } from '../src/controller/pod-index.js';

const pod = (name: string, model: string | undefined, namespace = 'ml', managedBy = 'hypergen-operator') => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels: { ...(model ? { 'app.kubernetes.io/instance': model } : {}), 'app.kubernetes.io/managed-by': managedBy } },
});
const names = (index: PodIndex, ns: string, model: string) => index.of(ns, model).map((p) => p.metadata.name).sort();

describe('PodIndex', () => {
  it('lists the pods of a model by namespace, follows updates and forgets deleted pods', () => {
    const index = new PodIndex();
    index.update('add', pod('a-1', 'a'));
    index.update('add', pod('a-2', 'a'));
    index.update('add', pod('b-1', 'b'));
    index.update('add', pod('a-1', 'a', 'other'));
    expect(names(index, 'ml', 'a')).toEqual(['a-1', 'a-2']);
    expect(names(index, 'other', 'a')).toEqual(['a-1']);
    const updated = { ...pod('a-1', 'a'), status: { phase: 'Running' } };
    index.update('update', updated);
    expect(index.of('ml', 'a').find((p) => p.metadata.name === 'a-1')).toBe(updated);
    index.update('delete', pod('a-2', 'a'));
    expect(names(index, 'ml', 'a')).toEqual(['a-1']);
    expect(names(index, 'ml', 'nope')).toEqual([]);
  });

  it('moves a pod whose instance label changes and drops one that loses it or is not ours', () => {
    const index = new PodIndex();
    index.update('add', pod('p', 'a'));
    index.update('update', pod('p', 'b'));
    expect([names(index, 'ml', 'a'), names(index, 'ml', 'b')]).toEqual([[], ['p']]);
    index.update('update', pod('p', undefined));
    expect(names(index, 'ml', 'b')).toEqual([]);
    index.update('add', pod('q', 'a', 'ml', 'someone-else'));
    expect(names(index, 'ml', 'a')).toEqual([]);
  });
});
