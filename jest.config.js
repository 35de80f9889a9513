// Jest 30 in native ESM mode (run through `node --experimental-vm-modules`, see package.json).
const base = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
};

/** @type {import('jest').Config} */
export default {
  projects: [
    // Pure logic: no agent, no network.
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/lib/**/*.spec.ts', '<rootDir>/test/unit/**/*.spec.ts'] },
    // Real Consul agents, started and stopped by each suite.
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
    // Real Consul clusters misbehaving on purpose: leader loss, rolling restarts, outages (docs/reliability.md).
    { ...base, displayName: 'reliability', testMatch: ['<rootDir>/test/reliability/**/*.rel-spec.ts'] },
  ],
  // Per-project testTimeout is ignored by Jest; e2e tests wait on real agents.
  testTimeout: 60_000,
  maxWorkers: 2,
};
