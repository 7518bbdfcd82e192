import { defineConfig } from "vitest/config";
import { projects } from "@hesaab/vitest-config";

export default defineConfig({ test: projects() });
