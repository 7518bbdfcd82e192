import { describe, expect, it } from "vitest";
import { HesaabError } from "@hesaab/config";
import { storedArtifactColumns } from "../src";

const stored = { size: 10, sha256: "ab".repeat(32), dekId: "dek_1", sidecar: { v: 1 } };

describe("storedArtifactColumns", () => {
  it("a copy in every provider: completed, both locations, copies pending verification", () => {
    const c = storedArtifactColumns({
      key: "k",
      stored: {
        ...stored,
        outcomes: [
          { provider: "b2", ok: true },
          { provider: "r2", ok: true },
        ],
      },
    });
    expect(c).toMatchObject({
      status: "completed",
      fileSize: 10,
      checksum: stored.sha256,
      encryptionKeyId: "dek_1",
      keySidecar: { v: 1 },
      b2Location: "k",
      r2Location: "k",
    });
    expect(c.providers.r2).toEqual({ location: "k", status: "stored", size: 10, sha256: stored.sha256, verification: "pending" });
  });
  it("a failed provider: degraded, no location for it, its error with the code", () => {
    const error = new HesaabError({ code: "storage_unavailable", message: "r2 is down" });
    const c = storedArtifactColumns({
      key: "k",
      stored: {
        ...stored,
        outcomes: [
          { provider: "b2", ok: true },
          { provider: "r2", ok: false, error },
        ],
      },
    });
    expect(c).toMatchObject({ status: "degraded", b2Location: "k", r2Location: null });
    expect(c.providers.r2).toEqual({ location: "k", status: "failed", error: "r2 is down [storage_unavailable]" });
  });
});
