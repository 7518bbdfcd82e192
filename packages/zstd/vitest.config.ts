import { defineConfig } from "vitest/config";
import { projects } from "@hesaab/vitest-config";

// Pure computation: no stack to start.
export default defineConfig({ test: projects({ shared: { pool: "forks" } }) });
