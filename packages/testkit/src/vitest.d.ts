export declare function testConfig(overrides?: Record<string, unknown>): {
  globalSetup: string[];
  setupFiles: string[];
  testTimeout: number;
  hookTimeout: number;
  pool: "forks";
  [key: string]: unknown;
};
