import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fsBackend } from "../src";
import { replicationSuite } from "./replication-suite";

replicationSuite({
  label: "two fs backends",
  open: async () => {
    const root = await mkdtemp(join(tmpdir(), "hesaab-repl-"));
    return {
      b2: fsBackend({ name: "b2", root: join(root, "b2"), create: true }),
      r2: fsBackend({ name: "r2", root: join(root, "r2"), create: true }),
      prefix: "repl/",
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  },
});
