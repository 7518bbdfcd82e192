// vitest setupFiles: load the stack's environment (.stack/env) into process.env, without
// overriding what the caller set explicitly.
import { readStackEnv } from "@hesaab/stack";

for (const [key, value] of Object.entries(readStackEnv())) {
  process.env[key] ??= value;
}
