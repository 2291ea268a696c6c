/**
 * Jest runs the TypeScript sources as native ES modules, transformed by SWC.
 * Workspace packages resolve to their sources, so tests need no build of the
 * kit; generated protobuf code resolves to proto/gen.
 * @type {import('jest').Config}
 */
const swc = [
  '@swc/jest',
  {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2023' },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

const shared = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: {
    '^@ordermesh/(runtime|grpc|identity|storage|messaging)$': '<rootDir>/services/kit/$1/src/index.ts',
    '^@ordermesh/testing$': '<rootDir>/services/kit/testing/src/index.ts',
    '^@ordermesh/dev/(platform|mail-sink)$': '<rootDir>/tools/dev/$1.ts',
    '^@ordermesh/proto/charge-binding$': '<rootDir>/proto/contracts/src/charge-binding.ts',
    '^@ordermesh/proto/common$': '<rootDir>/proto/gen/ordermesh/common/v1/money.ts',
    '^@ordermesh/proto/(user|order|payment|notification|events)$': '<rootDir>/proto/gen/ordermesh/$1/v1/$1.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
};

export default {
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/services/*/src/**/*.test.ts', '<rootDir>/services/kit/*/src/**/*.test.ts'],
    },
    {
      ...shared,
      displayName: 'integration',
      testMatch: [
        '<rootDir>/services/*/test/**/*.test.ts',
        '<rootDir>/services/kit/*/test/**/*.test.ts',
        '<rootDir>/tests/**/*.test.ts',
      ],
    },
  ],
  // Suites share the machine's PostgreSQL, Redis and RabbitMQ and cut connections to them: one at a time.
  maxWorkers: 1,
  // End-to-end suites wait for real processes and queues.
  testTimeout: 60_000,
  coverageProvider: 'v8',
  collectCoverageFrom: [
    'services/*/src/**/*.ts',
    'services/kit/*/src/**/*.ts',
    '!services/*/src/generated/**',
    '!services/kit/testing/**',
    '!**/*.test.ts',
  ],
  coverageReporters: ['text-summary', 'lcov'],
};
