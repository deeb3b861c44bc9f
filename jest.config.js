/** Jest runs the TypeScript sources through swc; the CLI tests use the compiled dist/ (built by `npm ci`). */
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['@swc/jest'] },
  testTimeout: 120000,
};
