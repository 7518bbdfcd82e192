// Plain JavaScript on purpose: vitest loads config files' dependencies with Node itself,
// which does not run TypeScript.
import { fileURLToPath } from "node:url";

/**
 * The shared `test` block for a package's vitest.config.ts. Integration tests need the stack,
 * so the global setup starts it; timeouts are generous because machines are shared and slow,
 * and no test asserts on wall-clock time.
 * @param {Record<string, unknown>} [overrides]
 */
export function testConfig(overrides = {}) {
  return {
    globalSetup: [fileURLToPath(new URL("./global-setup.ts", import.meta.url))],
    setupFiles: [fileURLToPath(new URL("./setup-env.ts", import.meta.url))],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: /** @type {const} */ ("forks"),
    ...overrides,
  };
}
