import { fileURLToPath } from "node:url";

/**
 * The shared `test` block for a package's vitest.config.ts. Integration tests need the stack,
 * so the global setup starts it; timeouts are generous because machines are shared and slow,
 * and no test asserts on wall-clock time.
 */
export function testConfig(overrides: Record<string, unknown> = {}) {
  return {
    globalSetup: [fileURLToPath(import.meta.resolve("./global-setup.ts"))],
    setupFiles: [fileURLToPath(import.meta.resolve("./setup-env.ts"))],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks" as const,
    ...overrides,
  };
}
