/** ESM all the way: see README "Development notes". */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // Generous: the process tests start gateway children (tsx compiles each at start), slow on a busy machine.
  testTimeout: 120000,
  maxWorkers: 2,
};
