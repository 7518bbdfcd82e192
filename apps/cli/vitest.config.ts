import { defineConfig } from "vitest/config";
import { projects } from "@hesaab/vitest-config";

// The CLI's tests start `hesaab` processes with the environment each case gives them: no shared
// setup loads the stack's env into this process (the stack tests call ensureStack themselves).
export default defineConfig({ test: projects() });
