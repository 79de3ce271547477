// decide(): scale up at once to the window's mean load over the target, down only after the delay, never while
// pods start, bounds enforced, a count set by someone else restarts the delay.
import { describe, expect, it } from '@jest/globals';
import { decide, policyOf, wantedReplicas, type AutoscalingPolicy, type Sample } from '../../src/autoscaler/decide.js';

const policy: AutoscalingPolicy = { minReplicas: 0, maxReplicas: 4, targetQueuePerReplica: 2, scaleDownDelaySeconds: 10 };
const samples = (...loads: number[]): Sample[] => loads.map((load, i) => ({ at: i * 1000, load }));

describe('autoscaler decision', () => {
  it('fills the CRD defaults', () => {
    expect(policyOf({ maxReplicas: 3 })).toEqual({ minReplicas: 1, maxReplicas: 3, targetQueuePerReplica: 2, scaleDownDelaySeconds: 300 });
  });

  it('wants ceil(mean load / target) replicas; any load wants at least one', () => {
    expect(wantedReplicas(policy, samples(0, 0))).toBe(0);
    expect(wantedReplicas(policy, samples(1))).toBe(1);
    expect(wantedReplicas(policy, samples(4, 4))).toBe(2);
    expect(wantedReplicas(policy, samples(4, 6))).toBe(3);
    expect(wantedReplicas(policy, [])).toBe(0);
  });

  it('scales up at once, capped at maxReplicas, with a ScaledUp reason', () => {
    const d = decide({ policy, current: 1, ready: 1, samples: samples(9, 9, 9), now: 3000, memory: { lastReplicas: 1 } });
    expect(d).toMatchObject({ replicas: 4, reason: 'ScaledUp', memory: { lastReplicas: 4 } });
    expect(d.message).toContain('1 -> 4');
  });

  it('scales down only after the load stayed below for scaleDownDelaySeconds, to zero when minReplicas is 0', () => {
    let memory = { lastReplicas: 2 };
    const first = decide({ policy, current: 2, ready: 2, samples: samples(0), now: 100_000, memory });
    expect(first).toMatchObject({ replicas: 2, memory: { belowSince: 100_000 } });
    expect(first.reason).toBeUndefined();
    memory = first.memory as typeof memory;
    expect(decide({ policy, current: 2, ready: 2, samples: samples(0), now: 109_999, memory }).replicas).toBe(2);
    expect(decide({ policy, current: 2, ready: 2, samples: samples(0), now: 110_000, memory })).toMatchObject({ replicas: 0, reason: 'ScaledToZero' });
    expect(decide({ policy: { ...policy, minReplicas: 1 }, current: 2, ready: 2, samples: samples(1), now: 110_000, memory })).toMatchObject({ replicas: 1, reason: 'ScaledDown' });
  });

  it('load back at the current count cancels a pending scale-down', () => {
    const pending = decide({ policy, current: 1, ready: 1, samples: samples(0), now: 0, memory: { lastReplicas: 1 } }).memory;
    const busy = decide({ policy, current: 1, ready: 1, samples: samples(0, 2), now: 5000, memory: pending });
    expect(busy.memory.belowSince).toBeUndefined();
    expect(decide({ policy, current: 1, ready: 1, samples: samples(0), now: 12_000, memory: busy.memory }).replicas).toBe(1);
  });

  it('never scales down while pods are still starting (a gateway may hold requests for them)', () => {
    const d = decide({ policy, current: 1, ready: 0, samples: samples(0, 0), now: 1_000_000, memory: { lastReplicas: 1, belowSince: 0 } });
    expect(d.replicas).toBe(1);
    expect(d.reason).toBeUndefined();
    expect(d.message).toContain('0/1 pods ready');
  });

  it('a count written by someone else (the gateway from zero, kubectl scale) restarts the delay', () => {
    const d = decide({ policy, current: 1, ready: 1, samples: samples(0), now: 50_000, memory: { lastReplicas: 0, belowSince: 0 } });
    expect(d).toMatchObject({ replicas: 1, memory: { lastReplicas: 1, belowSince: 50_000 } });
  });

  it('brings a count outside [min, max] back within, and does nothing without samples', () => {
    expect(decide({ policy: { ...policy, minReplicas: 1 }, current: 0, ready: 0, samples: [], now: 0, memory: {} })).toMatchObject({ replicas: 1, reason: 'OutOfBounds' });
    expect(decide({ policy, current: 7, ready: 7, samples: samples(20), now: 0, memory: {} })).toMatchObject({ replicas: 4, reason: 'OutOfBounds' });
    expect(decide({ policy, current: 2, ready: 2, samples: [], now: 0, memory: {} })).toMatchObject({ replicas: 2, message: 'no load samples yet' });
  });
});
