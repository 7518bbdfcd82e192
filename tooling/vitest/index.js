// The test projects every package shares (plain JavaScript: vitest loads a config's dependencies
// with Node itself). `unit`: everything but the stack tests, run first by `pnpm test` and never
// starting the stack; `integration`: `*.int.test.ts` and `*.browser.test.ts`, which need it.
// Timeouts are generous for every package: the machines are shared and slow, a test that starts a
// process or a server can take seconds there, and no test asserts on wall-clock time.

/** Test files that need the local stack (real PostgreSQL, NATS, S3 endpoints). */
export const STACK_TESTS = ["**/*.int.test.ts", "**/*.browser.test.ts"];

/**
 * A `test` block with the two projects. `integration` gets the options given for it (the stack's
 * global setup, from @hesaab/testkit); both inherit everything else in `shared`.
 * @param {{ shared?: Record<string, unknown>, integration?: Record<string, unknown> }} [o]
 */
export function projects({ shared = {}, integration = {} } = {}) {
  return {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    ...shared,
    projects: [
      { extends: true, test: { name: "unit", include: ["**/*.test.{ts,tsx}"], exclude: ["**/node_modules/**", "**/dist/**", ...STACK_TESTS] } },
      { extends: true, test: { name: "integration", include: STACK_TESTS, exclude: ["**/node_modules/**", "**/dist/**"], ...integration } },
    ],
  };
}
