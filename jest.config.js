// ESM mode: @kubernetes/client-node 1.4 is ESM-only. Type-checking is done by `tsc -b`; ts-jest only transpiles.
// @hypergen/testcluster (and its subpaths, as its package.json exports them) maps to its TypeScript source, so the
// tests run the test cluster's source as they run their own, built or not.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  roots: ['<rootDir>/server/test', '<rootDir>/operator/test', '<rootDir>/hack/test', '<rootDir>/hack/testcluster/test'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: {
    '^@hypergen/testcluster$': '<rootDir>/hack/testcluster/src/index.ts',
    '^@hypergen/testcluster/podrunner$': '<rootDir>/hack/testcluster/src/podrunner/index.ts',
    '^@hypergen/testcluster/(kubectl|cel)$': '<rootDir>/hack/testcluster/src/$1.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.test.json' }],
  },
  testTimeout: 60000,
};
