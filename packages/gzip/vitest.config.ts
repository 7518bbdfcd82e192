import { defineConfig } from "vitest/config";

// Pure computation: no stack to start.
export default defineConfig({ test: { pool: "forks", testTimeout: 60_000 } });
