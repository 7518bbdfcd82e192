import { describe } from "vitest";
import { withKeyPrefix } from "../src";
import { storageConformance } from "./conformance";
import { tempFsBackend } from "./helpers";

describe("key prefix decorator", () => {
  // The whole contract holds through the prefix (keys, ranges, listings with startAfter, errors).
  storageConformance({
    label: "fs under a key prefix",
    largeBytes: 2 * 1024 * 1024,
    open: async () => {
      const t = await tempFsBackend();
      return { backend: withKeyPrefix(t.backend, "ci-run-1"), prefix: "conf/", cleanup: t.cleanup };
    },
  });
});
