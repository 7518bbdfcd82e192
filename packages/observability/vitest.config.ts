import { defineConfig } from "vitest/config";
import { testConfig } from "@hesaab/testkit/vitest";

export default defineConfig({ test: testConfig() });
