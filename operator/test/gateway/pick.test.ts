// pickEndpoint(): the shortest estimated queue wins; ties go round robin; others' load comes from the pod's report.
import { describe, expect, it } from '@jest/globals';
import { estimatedQueue, pickEndpoint, type Load } from '../../src/gateway/pick.js';
import type { Endpoint } from '../../src/serving/endpoints.js';

const ep = (pod: string): Endpoint => ({ key: `ns/${pod}`, pod, model: 'm', host: '127.0.0.1', port: 8000 });
const [a, b, c] = [ep('a'), ep('b'), ep('c')];

describe('least-queue routing', () => {
  it("estimates a pod's queue as ours in flight now plus the others' part of its last report", () => {
    expect(estimatedQueue({ inflight: 2 })).toBe(2);
    expect(estimatedQueue({ inflight: 1, reported: { queue: 4, ownInflight: 1 } })).toBe(4);
    // Our requests finished since the report: they no longer count.
    expect(estimatedQueue({ inflight: 0, reported: { queue: 3, ownInflight: 3 } })).toBe(0);
  });

  it('sends to the pod with the shortest queue, whatever the turn', () => {
    const loads: Record<string, Load> = { 'ns/a': { inflight: 1 }, 'ns/b': { inflight: 0 }, 'ns/c': { inflight: 0, reported: { queue: 5, ownInflight: 0 } } };
    for (let turn = 0; turn < 5; turn++) expect(pickEndpoint([a, b, c], (e) => loads[e.key]!, turn)).toBe(b);
  });

  it('shares equal pods round robin, independent of the input order', () => {
    const idle = () => ({ inflight: 0 });
    expect([0, 1, 2, 3].map((t) => pickEndpoint([c, a, b], idle, t)!.pod)).toEqual(['a', 'b', 'c', 'a']);
  });

  it('has nothing to pick from no endpoints', () => {
    expect(pickEndpoint([], () => ({ inflight: 0 }), 0)).toBeUndefined();
  });
});
