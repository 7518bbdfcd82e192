import { createHash } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getBackupRecord, listBackupRecords, openCatalog, type Catalog } from "@hesaab/db";
import { keysSidecarKey, metaSidecarKey, putKeysSidecar, readAll, readMetaSidecar, type StorageBackend } from "@hesaab/storage";
import { adminQuery, freshDatabase, onDatabase, uniquePrefix } from "@hesaab/testkit";
import { backupPlatform, listDisasterBackups, restorePlatform, type DisasterBackupResult } from "../src";
import { databaseExists, drKeyRing, fingerprint, provider, randomKey, samplePlatform, tablesOf, writeConfigFiles, type SamplePlatform } from "./helpers";

const b2 = provider("b2");
const r2 = provider("r2");
const backends: StorageBackend[] = [b2.backend, r2.backend];
const key1 = randomKey();
const keyRing = drKeyRing({ 1: key1 });
const root = uniquePrefix("dr");

let source: SamplePlatform;
let catalog: Catalog;
let dir: string;
let configFiles: string[];
let backup: DisasterBackupResult;

beforeAll(async () => {
  source = await samplePlatform();
  catalog = openCatalog({ url: source.db.url, max: 2 }); // the catalog lives in the platform database, as in production
  dir = await mkdtemp(path.join(os.tmpdir(), "dr-test-"));
  configFiles = await writeConfigFiles(dir);
  backup = await backupPlatform({
    platformUrl: source.db.url,
    keyRing,
    backends,
    catalog: catalog.db,
    configFiles,
    gitCommit: "abc1234",
    root,
    requestedBy: "test",
  });
});
afterAll(async () => {
  b2.faults!.clear();
  r2.faults!.clear();
  await catalog.close();
  await source.db.drop();
  await rm(dir, { recursive: true, force: true });
});

describe("disaster backup", () => {
  it("stores both parts in both providers, verified, with a completed record and a manifest of the snapshot", async () => {
    expect(backup.status).toBe("completed");
    expect(backup.providers.map((p) => [p.provider, p.ok, p.verifiedBy])).toEqual([
      ["b2", true, "upload-etag"],
      ["r2", true, "upload-etag"],
    ]);
    expect(backup.manifest.gitCommit).toBe("abc1234");
    expect(backup.manifest.serverVersion).toMatch(/^\d+/);
    expect(backup.manifest.databaseSizeBytes).toBeGreaterThan(0);
    expect(backup.manifest.tables["public.invoices"]).toBeGreaterThan(0);
    expect(backup.manifest.tables["backup.tenant_keys"]).toBe(4);
    // The backup's own record was written after the snapshot: not in the dump.
    expect(backup.manifest.tables["backup.backup_records"]).toBe(0);
    for (const b of backends) {
      const meta = (await readMetaSidecar({ backend: b, artifactKey: `${root}${backup.data.key}` }))!;
      expect(await b.head(`${root}${metaSidecarKey(backup.data.key)}`)).toBeNull(); // the description travels on the key sidecar
      expect(meta).toMatchObject({
        type: "disaster",
        part: "data",
        tenantId: null,
        contentEncoding: "pg_dump-custom",
        size: backup.data.size,
        sha256: backup.data.sha256,
      });
      expect(meta.manifest).toMatchObject({ gitCommit: "abc1234", rows: Object.values(backup.manifest.tables).reduce((a, n) => a + n, 0) });
      expect(JSON.parse((await readAll(await b.get(`${root}${keysSidecarKey(backup.config.key)}`))).toString())).toMatchObject({
        kind: 3,
        tenantId: "",
        backupId: backup.backupId,
      });
    }
    const record = (await getBackupRecord(catalog.db, backup.backupId))!;
    expect(record).toMatchObject({
      backupType: "disaster",
      tenantId: null,
      status: "completed",
      verificationStatus: "verified",
      checksum: backup.data.sha256,
      fileSize: backup.data.size,
    });
    expect(record.providers.b2).toMatchObject({ status: "stored", verification: "verified", location: `${root}${backup.data.key}` });
    expect(record.keySidecar).toMatchObject({ dekId: backup.data.dekId });
    const days = (record.expiresAt!.getTime() - record.createdAt.getTime()) / 86_400_000;
    expect(days).toBe(90);
    expect(record.metadata).toMatchObject({ gitCommit: "abc1234", config: { sha256: backup.config.sha256 } });
  });

  it("lists from the buckets alone: complete in both providers", async () => {
    const listing = await listDisasterBackups({ backends, root });
    expect(listing.providers.map((p) => p.ok)).toEqual([true, true]);
    expect(listing.backups).toHaveLength(1);
    expect(listing.backups[0]).toMatchObject({ backupId: backup.backupId, completeIn: ["b2", "r2"], summary: { gitCommit: "abc1234" } });
  });

  it("restores into a fresh database from R2 with B2 down: every table, the backup schema and the configuration back", async () => {
    const target = await freshDatabase("dr_dst");
    const configDir = path.join(dir, "restored-config");
    b2.faults!.down();
    try {
      const report = await restorePlatform({ latest: true, backends, keyRing, targetUrl: target.url, configDir, jobs: 2, root });
      expect(report).toMatchObject({
        ok: true,
        backupId: backup.backupId,
        requestedProvider: "b2",
        providerUsed: "r2",
        fellBack: true,
        mismatches: 0,
        gitCommit: "abc1234",
      });
      expect(report.failures.some((f) => f.provider === "b2" && f.stage === "listing")).toBe(true);
      expect(await fingerprint(target.url)).toEqual(await fingerprint(source.db.url));
      for (const file of configFiles) {
        const restored = report.configFiles.find((f) => f.path === file)!.writtenTo!;
        expect(restored.startsWith(configDir)).toBe(true);
        expect(await readFile(restored, "utf8")).toBe(await readFile(file, "utf8"));
      }
    } finally {
      b2.faults!.clear();
      await target.drop();
    }
  });

  it("refuses a target that is not empty, naming its tables, unless asked", async () => {
    const target = await freshDatabase("dr_busy");
    try {
      await adminQueryOn(target.url, "create table leftover (id int); insert into leftover values (1)");
      await expect(restorePlatform({ latest: true, backends, keyRing, targetUrl: target.url, root })).rejects.toMatchObject({
        code: "dr_target_not_empty",
        message: expect.stringContaining("public.leftover"),
      });
      expect(await tablesOf(target.url)).toEqual(["public.leftover"]);
      const report = await restorePlatform({ backupId: backup.backupId, backends, keyRing, targetUrl: target.url, root, allowNonEmpty: true });
      expect(report.ok).toBe(true);
      expect((await fingerprint(target.url)).tables).toEqual((await fingerprint(source.db.url)).tables);
    } finally {
      await target.drop();
    }
  });

  it("creates a missing target database, but only after the backup verified", async () => {
    const name = `dr_new_${Date.now().toString(36)}`;
    const url = `postgres://postgres@127.0.0.1:5432/${name}`;
    try {
      const report = await restorePlatform({ latest: true, backends: [r2.backend, b2.backend], keyRing, targetUrl: url, root });
      expect(report).toMatchObject({ ok: true, createdDatabase: true, providerUsed: "r2", fellBack: false });
    } finally {
      await adminQuery(`drop database if exists "${name}" with (force)`);
    }
  });
});

describe("degraded backups", () => {
  it("a provider down during the upload: degraded, restorable from the other", async () => {
    const ownRoot = uniquePrefix("dr-degraded");
    r2.faults!.down();
    let result: DisasterBackupResult;
    try {
      result = await backupPlatform({ platformUrl: source.db.url, keyRing, backends, catalog: catalog.db, root: ownRoot });
    } finally {
      r2.faults!.clear();
    }
    expect(result.status).toBe("degraded");
    expect(result.providers.map((p) => [p.provider, p.ok, p.stored])).toEqual([
      ["b2", true, true],
      ["r2", false, false],
    ]);
    const record = (await getBackupRecord(catalog.db, result.backupId))!;
    expect(record).toMatchObject({ status: "degraded", verificationStatus: "partial", b2Location: `${ownRoot}${result.data.key}`, r2Location: null });
    expect(record.providers.r2).toMatchObject({ status: "failed" });
    const listing = await listDisasterBackups({ backends, root: ownRoot });
    expect(listing.backups[0]!.completeIn).toEqual(["b2"]);
  });

  it("a provider that stores other bytes than it was sent: its ETag proves nothing, the copy is read back and found corrupt", async () => {
    const ownRoot = uniquePrefix("dr-badcopy");
    r2.faults!.corrupt("put", { times: 1 }); // the data part: the first put
    let result: DisasterBackupResult;
    try {
      result = await backupPlatform({ platformUrl: source.db.url, keyRing, backends, catalog: catalog.db, root: ownRoot });
    } finally {
      r2.faults!.clear();
    }
    expect(result.status).toBe("degraded");
    expect(result.providers[1]).toMatchObject({
      provider: "r2",
      ok: false,
      stored: true,
      verified: false,
      problem: expect.stringContaining("checksum_mismatch"),
    });
    expect((await getBackupRecord(catalog.db, result.backupId))!.providers.r2).toMatchObject({ status: "corrupt", verification: "failed" });
    expect(result.providers[0]).toMatchObject({ provider: "b2", ok: true, verifiedBy: "upload-etag" });
  });

  it("a copy proved by its upload's ETag is not read back (a read that would go wrong is never made)", async () => {
    const ownRoot = uniquePrefix("dr-etag");
    r2.faults!.corrupt("get");
    const before = r2.faults!.calls.length;
    let result: DisasterBackupResult;
    try {
      result = await backupPlatform({ platformUrl: source.db.url, keyRing, backends, root: ownRoot });
    } finally {
      r2.faults!.clear();
    }
    expect(result.status).toBe("completed");
    expect(result.providers.map((p) => p.verifiedBy)).toEqual(["upload-etag", "upload-etag"]);
    expect(r2.faults!.calls.slice(before).filter((c) => c.op === "get")).toEqual([]);
  });

  it("both providers down: no record completed, the error is retryable", async () => {
    b2.faults!.down();
    r2.faults!.down();
    try {
      await expect(backupPlatform({ platformUrl: source.db.url, keyRing, backends, catalog: catalog.db, root: uniquePrefix("dr-down") })).rejects.toMatchObject(
        {
          code: "storage_all_providers_failed",
          retryable: true,
        },
      );
    } finally {
      b2.faults!.clear();
      r2.faults!.clear();
    }
  });
});

describe("a restore that cannot verify touches nothing", () => {
  it("with the wrong key", async () => {
    const name = `dr_never_${Date.now().toString(36)}`;
    const target = await freshDatabase("dr_wrongkey");
    try {
      const wrong = drKeyRing({ 1: randomKey() });
      await expect(restorePlatform({ latest: true, backends, keyRing: wrong, targetUrl: target.url, root })).rejects.toMatchObject({
        code: "dr_backup_unusable",
        message: expect.stringContaining("key_unwrap_failed"),
      });
      expect(await tablesOf(target.url)).toEqual([]);
      // A target that does not exist yet is not created either.
      await expect(
        restorePlatform({ latest: true, backends, keyRing: wrong, targetUrl: `postgres://postgres@127.0.0.1:5432/${name}`, root }),
      ).rejects.toMatchObject({ code: "dr_backup_unusable" });
      expect(await databaseExists(name)).toBe(false);
    } finally {
      await target.drop();
    }
  });

  it("with a truncated download from every provider", async () => {
    const target = await freshDatabase("dr_trunc");
    // Past the sidecars and the config part: only the data part's download is cut short (the provider says it is done).
    expect(backup.data.size).toBeGreaterThan(100_000);
    expect(backup.config.size).toBeLessThan(100_000);
    b2.faults!.cut("get", { afterBytes: 100_000, mode: "end" });
    r2.faults!.cut("get", { afterBytes: 100_000, mode: "end" });
    try {
      const err = await restorePlatform({ latest: true, backends, keyRing, targetUrl: target.url, root }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "dr_backup_unusable" });
      const failures = (err as { context: { failures: { provider: string; stage: string; code: string }[] } }).context.failures;
      expect(failures.map((f) => [f.provider, f.stage])).toEqual([
        ["b2", "data"],
        ["r2", "data"],
      ]);
      expect(await tablesOf(target.url)).toEqual([]);
    } finally {
      b2.faults!.clear();
      r2.faults!.clear();
      await target.drop();
    }
  });

  it("with a tampered artifact whose meta sidecar was rewritten to match (only the authenticated decrypt can tell)", async () => {
    const { own, ownRoot } = await ownBackup("dr-tamper");
    const target = await freshDatabase("dr_tamper");
    try {
      for (const b of backends) {
        const bytes = await readAll(await b.get(own.data.location));
        const at = Math.floor(bytes.length / 2);
        bytes[at] = bytes[at]! ^ 0x01;
        await b.put(own.data.location, bytes);
        // the description agrees with the tampered bytes, so only the authenticated decrypt can tell
        const artifactKey = `${ownRoot}${own.data.key}`;
        const meta = (await readMetaSidecar({ backend: b, artifactKey }))!;
        meta.sha256 = createHash("sha256").update(bytes).digest("hex");
        const keys = await readAll(await b.get(keysSidecarKey(artifactKey)));
        await putKeysSidecar({ backend: b, artifactKey, keys, meta: Buffer.from(JSON.stringify(meta)) });
      }
      const err = await restorePlatform({ latest: true, backends, keyRing, targetUrl: target.url, root: ownRoot }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "dr_backup_unusable", message: expect.stringContaining("artifact_chunk_auth_failed") });
      expect(await tablesOf(target.url)).toEqual([]);
    } finally {
      await target.drop();
    }
  });
});

describe("a restore whose target misbehaves while pg_restore runs", () => {
  it("a table that loses its rows on the way in: the counts, taken beside the post-data step, report it", async () => {
    const target = await freshDatabase("dr_lossy");
    try {
      await onCreateTable(
        target.url,
        "public.invoice_line_taxes",
        "create trigger lose_rows before insert on public.invoice_line_taxes for each row execute function public.hesaab_test_lose_row()",
      );
      const report = await restorePlatform({ backupId: backup.backupId, backends, keyRing, targetUrl: target.url, root });
      expect(report).toMatchObject({ ok: false, mismatches: 1 });
      expect(report.tables.filter((t) => !t.ok)).toEqual([
        { table: "public.invoice_line_taxes", expected: backup.manifest.tables["public.invoice_line_taxes"], actual: 0, ok: false },
      ]);
      expect(backup.manifest.tables["public.invoice_line_taxes"]).toBeGreaterThan(0);
      // The post-data step ran to its end beside the counts: the indexes and constraints are there.
      expect(await constraintsOf(target.url, "public.invoices")).toContain("p");
    } finally {
      await target.drop();
    }
  });

  it("pg_restore failing in its data step: dr_restore_failed with pg_restore's error and the step; the post-data step never ran", async () => {
    const target = await freshDatabase("dr_refusing");
    try {
      await onCreateTable(target.url, "public.invoice_line_taxes", "alter table public.invoice_line_taxes add constraint refuse_rows check (false) not valid");
      await expect(restorePlatform({ backupId: backup.backupId, backends, keyRing, targetUrl: target.url, root })).rejects.toMatchObject({
        code: "dr_restore_failed",
        message: expect.stringMatching(/pg_restore --section=pre-data,data into .* failed \(exit 1\): .*violates check constraint "refuse_rows"/s) as string,
      });
      // What pg_restore got to stays (the docs: run again into a fresh database): the tables, without their primary keys.
      expect(await tablesOf(target.url)).toContain("public.invoices");
      expect(await constraintsOf(target.url, "public.invoices")).not.toContain("p");
    } finally {
      await target.drop();
    }
  });

  it("a copy whose config part is corrupt: its data download is stopped and the other provider serves the backup", async () => {
    const { own, ownRoot } = await ownBackup("dr-badconfig");
    const target = await freshDatabase("dr_badconfig");
    try {
      const bytes = await readAll(await b2.backend.get(own.config.location));
      bytes[bytes.length >> 1]! ^= 0x01;
      await b2.backend.put(own.config.location, bytes);
      const report = await restorePlatform({ latest: true, backends, keyRing, targetUrl: target.url, root: ownRoot });
      expect(report).toMatchObject({ ok: true, providerUsed: "r2", fellBack: true });
      expect(report.failures).toEqual([{ provider: "b2", stage: "config", code: "storage_corrupt", message: expect.any(String) as string }]);
    } finally {
      await target.drop();
    }
  });
});

describe("a failed backup leaves no completed record", () => {
  it("pg_dump killed mid-way: record failed, no objects left", async () => {
    const bin = await mkdtemp(path.join(os.tmpdir(), "dr-bin-"));
    const fake = path.join(bin, "pg_dump");
    await writeFile(fake, `#!/bin/sh\n/usr/bin/pg_dump "$@" | head -c 3000\nkill -9 $$\n`);
    await chmod(fake, 0o755);
    const pathBefore = process.env.PATH;
    process.env.PATH = `${bin}:${pathBefore}`;
    const ownRoot = uniquePrefix("dr-killed");
    try {
      const err = await backupPlatform({ platformUrl: source.db.url, keyRing, backends, catalog: catalog.db, root: ownRoot }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "dr_dump_failed", message: expect.stringContaining("SIGKILL") });
    } finally {
      process.env.PATH = pathBefore;
      await rm(bin, { recursive: true, force: true });
    }
    const records = await listBackupRecords(catalog.db, { type: "disaster" });
    const killed = records.filter((r) => r.filename.startsWith(ownRoot));
    expect(killed.map((r) => r.status)).toEqual(["failed"]);
    expect(killed[0]!.errorMessage).toMatch(/dr_dump_failed/);
    const listing = await listDisasterBackups({ backends, root: ownRoot });
    expect(listing.backups).toEqual([]);
  });

  it("a database that cannot be reached: no record at all", async () => {
    const before = (await listBackupRecords(catalog.db, { type: "disaster" })).length;
    const url = source.db.url.replace(/\/[^/]+$/, "/dr_does_not_exist");
    await expect(backupPlatform({ platformUrl: url, keyRing, backends, catalog: catalog.db, root: uniquePrefix("dr-bad") })).rejects.toMatchObject({
      code: "dr_dump_failed",
    });
    expect(await listBackupRecords(catalog.db, { type: "disaster" })).toHaveLength(before);
  });
});

/** A backup of the source of its own, under its own root (for tests that tamper with its objects). */
async function ownBackup(label: string): Promise<{ own: DisasterBackupResult; ownRoot: string }> {
  const own = await backupPlatform({ platformUrl: source.db.url, keyRing, backends, root: uniquePrefix(label) });
  return { own, ownRoot: own.data.location.slice(0, -own.data.key.length) };
}

async function adminQueryOn(url: string, sql: string): Promise<void> {
  await onDatabase(url, (client) => client.query(sql));
}

/**
 * The target database runs `action` when pg_restore creates `table` (an event trigger): a real
 * PostgreSQL that refuses or drops rows, with no user object in it before the restore starts.
 */
async function onCreateTable(url: string, table: string, action: string): Promise<void> {
  await adminQueryOn(
    url,
    `create function public.hesaab_test_lose_row() returns trigger language plpgsql as $$ begin return null; end $$;
     create function public.hesaab_test_on_create() returns event_trigger language plpgsql as $$
     begin
       if exists (select 1 from pg_event_trigger_ddl_commands() where object_identity = ${quoteLiteral(table)}) then
         execute ${quoteLiteral(action)};
       end if;
     end $$;
     create event trigger hesaab_test_on_create on ddl_command_end when tag in ('CREATE TABLE') execute function public.hesaab_test_on_create();`,
  );
}

const quoteLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The constraint types (`p`, `f`, `c`, …) a table has. */
async function constraintsOf(url: string, table: string): Promise<string[]> {
  const { rows } = await onDatabase(url, (client) =>
    client.query<{ contype: string }>("select contype from pg_constraint where conrelid = $1::regclass", [table]),
  );
  return rows.map((r) => r.contype);
}
