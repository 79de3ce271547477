// Waiting in the end-to-end tests: poll until a check holds; on timeout, fail naming what was awaited with the tail
// of what the stack's operator (and gateway, when it runs one) logged. A hang guard, not a speed test.
import type { Stack } from '../../src/demo/stack.js';

export type Until = <T>(f: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs?: number) => Promise<T>;

/** An `until` for the stack a test starts in beforeAll (read lazily, so it can be made at module level). */
export function waiter(stack: () => Stack): Until {
  return async (f, what, timeoutMs = 90_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await f();
      if (v) return v;
      if (Date.now() > deadline) {
        const gateway = stack().gatewayOutput();
        const logs = `${gateway ? `\n--- gateway ---\n${gateway.slice(-3000)}` : ''}\n--- operator ---\n${stack().operatorOutput().slice(-4000)}`;
        throw new Error(`timed out waiting for ${what}${logs}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
}
