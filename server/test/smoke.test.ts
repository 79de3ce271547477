import { describe, expect, it } from '@jest/globals';
describe('toolchain', () => { it('runs ESM TypeScript', () => { expect(1 + 1).toBe(2); }); });
