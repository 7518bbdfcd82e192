// vitest globalSetup: make sure the local stack (PostgreSQL, NATS, both s3rver endpoints) answers
// before any test file runs. Idempotent: what already runs is reused.
import { ensureStack } from "@hesaab/stack";

export default async function setup(): Promise<void> {
  await ensureStack();
}
