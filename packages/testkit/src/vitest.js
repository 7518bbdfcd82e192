// Plain JavaScript on purpose: vitest loads config files' dependencies with Node itself,
// which does not run TypeScript.
import { fileURLToPath } from "node:url";
import { projects } from "@hesaab/vitest-config";

/**
 * The shared `test` block for a package's vitest.config.ts: the `unit` and `integration` projects,
 * the stack started (global setup) for the integration one only.
 * @param {Record<string, unknown>} [overrides]
 */
export function testConfig(overrides = {}) {
  return projects({
    shared: {
      setupFiles: [fileURLToPath(new URL("./setup-env.ts", import.meta.url))],
      pool: /** @type {const} */ ("forks"),
      ...overrides,
    },
    integration: { globalSetup: [fileURLToPath(new URL("./global-setup.ts", import.meta.url))] },
  });
}
