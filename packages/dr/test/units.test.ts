import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeArtifact } from "@hesaab/artifacts";
import { disasterBackupKey, fsBackend, withKeyPrefix, type StorageBackend } from "@hesaab/storage";
import { buildConfigBundle, deployedGitCommit, findDisasterBackup, listDisasterBackups, parseConfigBundle, writeConfigBundle } from "../src";
import { drKeyRing, randomKey } from "./helpers";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "dr-unit-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("configuration bundle", () => {
  it("round-trips files with their modes, re-rooted below the target directory (relative or absolute)", async () => {
    const file = path.join(dir, "app.env");
    await writeFile(file, "TOKEN=x\n", { mode: 0o600 });
    const bundle = parseConfigBundle(JSON.stringify(await buildConfigBundle([file])));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const [written] = await writeConfigBundle({ bundle, dir: "out" });
      expect(written).toBe(path.join(dir, "out", file));
      expect(await readFile(written!, "utf8")).toBe("TOKEN=x\n");
      expect((await stat(written!)).mode & 0o777).toBe(0o600);
    } finally {
      process.chdir(cwd);
    }
  });

  it("never writes outside the target directory", async () => {
    const bundle = { format: "hesaab-config-bundle" as const, version: 1 as const, files: [{ path: "../../../etc/evil", mode: 0o644, content: "" }] };
    const [written] = await writeConfigBundle({ bundle, dir: path.join(dir, "safe") });
    expect(written!.startsWith(path.join(dir, "safe") + path.sep)).toBe(true);
  });

  it("fails naming a configuration file that cannot be read", async () => {
    await expect(buildConfigBundle([path.join(dir, "missing.yml")])).rejects.toMatchObject({
      code: "dr_config_invalid",
      message: expect.stringContaining("missing.yml"),
    });
  });

  it("refuses what is not a bundle", () => {
    expect(() => parseConfigBundle("{}")).toThrow(/unknown format/);
    expect(() => parseConfigBundle("nope")).toThrow(/not valid JSON/);
  });
});

describe("git commit", () => {
  it("prefers the configured value, else asks git, else null", async () => {
    expect(await deployedGitCommit({ configured: " deadbeef " })).toBe("deadbeef");
    expect(await deployedGitCommit({ cwd: process.cwd() })).toMatch(/^[0-9a-f]{40}$/);
    expect(await deployedGitCommit({ cwd: os.tmpdir() })).toBeNull();
  });
});

describe("listing from a bucket alone", () => {
  const keyRing = drKeyRing({ 1: randomKey() });
  const put = async ({ backend, backupId, createdAt, part }: { backend: StorageBackend; backupId: string; createdAt: Date; part: "data" | "config" }) =>
    storeArtifact({
      plaintext: Readable.from([Buffer.from(part === "data" ? "PGDMP..." : "{}")]),
      identity: { kind: "platform", tenantId: "", backupId },
      keyRing,
      backends: [backend],
      key: disasterBackupKey({ backupId, createdAt, part }),
      gzipLevel: part === "config" ? 6 : false,
      meta: { type: "disaster", part, createdAt, manifest: part === "data" ? { gitCommit: "c0ffee" } : { rows: 7 } },
    });

  it("groups parts per backup, newest first, tells complete from incomplete, and keeps roots apart", async () => {
    const bucket = fsBackend({ name: "b2", root: path.join(dir, "bucket"), create: true });
    const backend = withKeyPrefix(bucket, "team-a");
    const older = new Date("2026-01-01T01:30:00Z");
    const newer = new Date("2026-01-02T01:30:00Z");
    await put({ backend, backupId: "bkp_old", createdAt: older, part: "data" });
    await put({ backend, backupId: "bkp_old", createdAt: older, part: "config" });
    await put({ backend, backupId: "bkp_new", createdAt: newer, part: "data" }); // its config part never arrived
    await bucket.put("team-a/disaster/stray.txt", Buffer.from("?"));
    await put({ backend: withKeyPrefix(bucket, "team-b"), backupId: "bkp_other", createdAt: newer, part: "data" });

    const listing = await listDisasterBackups({ backends: [bucket], root: "team-a" });
    expect(listing.providers).toEqual([{ provider: "b2", ok: true, backups: 2, strays: 1 }]);
    expect(listing.backups.map((b) => [b.backupId, b.completeIn])).toEqual([
      ["bkp_new", []],
      ["bkp_old", ["b2"]],
    ]);
    expect(listing.backups[0]!.copies[0]!.problems).toEqual(["config: part missing"]);
    expect(listing.backups[1]!.summary).toMatchObject({ gitCommit: "c0ffee", rows: 7 });

    // A restore's choice: the newest complete backup (the newer one is incomplete), or exactly the one asked for.
    const latest = await findDisasterBackup({ backends: [bucket], root: "team-a" });
    expect([latest.entry?.backupId, latest.incomplete]).toEqual(["bkp_old", 1]);
    expect((await findDisasterBackup({ backends: [bucket], root: "team-a", backupId: "bkp_new" })).entry?.completeIn).toEqual([]);
    expect((await findDisasterBackup({ backends: [bucket], root: "team-a", backupId: "bkp_none" })).entry).toBeUndefined();
  });

  it("reports a provider it cannot list, and lists the others", async () => {
    const good = fsBackend({ name: "r2", root: path.join(dir, "bucket"), create: true });
    const missing = fsBackend({ name: "b2", root: path.join(dir, "no-such-bucket") });
    const listing = await listDisasterBackups({ backends: [missing, good], root: "team-a" });
    expect(listing.providers.map((p) => [p.provider, p.ok])).toEqual([
      ["b2", false],
      ["r2", true],
    ]);
    expect(listing.providers[0]!.errorCode).toBe("storage_bucket_missing");
    expect(listing.backups.map((b) => b.completeIn)).toEqual([[], ["r2"]]);
  });
});
