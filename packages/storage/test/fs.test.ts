import { storageConformance } from "./conformance";
import { tempFsBackend } from "./helpers";

storageConformance({
  label: "fs",
  open: async () => {
    const t = await tempFsBackend();
    return { backend: t.backend, prefix: "conf/", cleanup: t.cleanup };
  },
});
