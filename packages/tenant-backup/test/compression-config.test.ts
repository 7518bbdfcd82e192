import { describe, expect, it, vi } from "vitest";
import type { TenantBackupEnv } from "../src";

describe("BACKUP_COMPRESSION=zstd where this process has no zstd engine", () => {
  it("fails at startup, saying what to do, before any pool or provider is opened", async () => {
    vi.stubEnv("HESAAB_ZSTD_DISABLE", "libzstd,zlib"); // a Node 20 machine without libzstd-dev
    vi.resetModules();
    try {
      const { openTenantBackupDeps } = await import("../src/open-tenant-backup-deps");
      // nothing else is configured: the check comes first, or this would fail on the providers
      const env = { BACKUP_COMPRESSION: "zstd" } as TenantBackupEnv;
      expect(() => openTenantBackupDeps({ env, workDir: "/nonexistent" })).toThrow(
        expect.objectContaining({
          code: "config_invalid",
          message: "BACKUP_COMPRESSION is zstd, but this process cannot compress with zstd",
          hint: expect.stringMatching(/apt-get install libzstd-dev.*or set BACKUP_COMPRESSION=gzip/) as string,
        }),
      );
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });
});
