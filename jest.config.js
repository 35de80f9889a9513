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
  // How long a worker may take to end once told to, before Jest kills it and says it "failed to
  // exit gracefully". Jest's 500 ms is too short here, with no leak involved. Measured at the end of
  // full unit+e2e runs: each worker's 'exit' event came 1–51 ms after Jest's end message, with no
  // handle left but its own pipes, yet the process was gone only 445–622 ms after the message
  // (Node tearing down a worker of 0.8–1.0 GB RSS, 0.5–0.8 GB of it live heap, after ~45 test
  // files each). A real leak keeps a worker alive for good, so it is still reported.
  workerGracefulExitTimeout: 3_000,
};
