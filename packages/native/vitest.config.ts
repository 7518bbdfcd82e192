import { defineConfig } from "vitest/config";
import { projects } from "@hesaab/vitest-config";

// Files and processes only: no stack to start.
export default defineConfig({ test: projects() });
