/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type checking is `npm run type-check`'s job; tests only transpile.
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  moduleNameMapper: {
    // The repository's .env (a user's settings) must not reach the tests: see the stub.
    '^dotenv$': '<rootDir>/test/setup/dotenv.js',
    // @jupiterone/integration-sdk-testing deep-imports this file, which Jest 29 still ships.
    '^expect/build/(.*)$': '<rootDir>/node_modules/expect/build/$1',
  },
  setupFiles: ['<rootDir>/test/setup/env.ts'],
  setupFilesAfterEnv: ['<rootDir>/test/setup/matchers.ts'],
  testTimeout: 60_000,
};
