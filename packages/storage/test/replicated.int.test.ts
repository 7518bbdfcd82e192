// Dual write and failover read against both real local S3 endpoints, faults injected by wrapping them.
import { replicationSuite } from "./replication-suite";
import { deletePrefix, s3Test, uniquePrefix } from "./helpers";

replicationSuite({
  label: "b2 and r2 (s3rver)",
  largeBytes: 11 * 1024 * 1024 + 5, // several multipart parts on both providers at once
  open: async () => {
    const prefix = uniquePrefix("repl");
    return {
      b2: s3Test("b2"),
      r2: s3Test("r2"),
      prefix,
      cleanup: async () => {
        await deletePrefix("b2", prefix);
        await deletePrefix("r2", prefix);
      },
    };
  },
});
