import { packageConfig } from "@hesaab/eslint-config";

export default [
  ...packageConfig({ name: "testkit", dir: import.meta.dirname }),
  // Test infrastructure: it reads and sets the test environment on purpose.
  { files: ["src/**"], rules: { "no-restricted-syntax": "off" } },
  { files: ["**/*.js"], languageOptions: { globals: { URL: "readonly", process: "readonly" } } },
];
