import { storageConformance } from "./conformance";
import { deletePrefix, s3Test, uniquePrefix } from "./helpers";

for (const which of ["b2", "r2"] as const) {
  storageConformance({
    label: `s3 (${which}, s3rver)`,
    strictByteOrder: false, // s3rver lists in file-name order; see ConformanceOptions.strictByteOrder
    open: async () => {
      const prefix = uniquePrefix(`conf-${which}`);
      return { backend: s3Test(which), prefix, cleanup: () => deletePrefix(which, prefix) };
    },
  });
}
