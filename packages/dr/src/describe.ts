import { describeError, type ErrorDescription } from "@hesaab/config";

/**
 * An error as dr's reports and events carry it: `describeError` (the one policy: an error not ours is
 * not retryable unless transient), with every error not ours named `unexpected`.
 */
export function describe(err: unknown): ErrorDescription {
  return describeError(err, { unknownCode: "unexpected" });
}
