import { defineConfig } from "vitest/config";
import { projects } from "@hesaab/vitest-config";

// The stack's own tests start it themselves (no global setup).
export default defineConfig({ test: projects() });
