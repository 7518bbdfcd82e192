import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { freshDatabase, type FreshDatabase } from "@hesaab/testkit";
import { newId } from "@hesaab/contracts";
import {
  alertOnDeadLetter,
  alerts,
  finishBackupRecords,
  getBackupRecord,
  insertBackupRecord,
  insertBackupRecords,
  latestRestorableBackup,
  listAlerts,
  listAuditEntries,
  migrate,
  openCatalog,
  raiseAlert,
  resolveAlertGroups,
  setProviderCopy,
  settleAlert,
  writeAudit,
  type Catalog,
} from "../src";

let database: FreshDatabase;
let catalog: Catalog;
beforeAll(async () => {
  database = await freshDatabase("db_records");
  await migrate({ url: database.url });
  catalog = openCatalog({ url: database.url });
});
afterAll(async () => {
  await catalog.close();
  await database.drop();
});

const base = { backupType: "tenant" as const, filename: "f", encryptionKeyId: "k" };

describe("backup records", () => {
  it("merge provider copies without losing concurrent updates", async () => {
    const id = newId("bkp");
    await insertBackupRecord(catalog.db, { ...base, id, tenantId: "t1" });
    await Promise.all([
      setProviderCopy(catalog.db, { id, provider: "b2", copy: { location: "k", status: "stored" } }),
      setProviderCopy(catalog.db, { id, provider: "r2", copy: { location: "k", status: "failed" } }),
    ]);
    await setProviderCopy(catalog.db, { id, provider: "r2", copy: { status: "stored" } });
    const row = await getBackupRecord(catalog.db, id);
    expect(row!.providers).toEqual({ b2: { location: "k", status: "stored" }, r2: { location: "k", status: "stored" } });
  });

  it("clear fields of one provider's copy while merging others", async () => {
    const id = newId("bkp");
    await insertBackupRecord(catalog.db, {
      ...base,
      id,
      tenantId: "t1",
      providers: { b2: { location: "k", status: "failed", error: "boom" }, r2: { location: "k", status: "failed", error: "down" } },
    });
    await setProviderCopy(catalog.db, { id, provider: "b2", copy: { status: "stored", verification: "verified" }, clear: ["error"] });
    const row = await getBackupRecord(catalog.db, id);
    expect(row!.providers).toEqual({
      b2: { location: "k", status: "stored", verification: "verified" },
      r2: { location: "k", status: "failed", error: "down" },
    });
  });

  it("finish many records in one statement: finished columns replace the running ones, the rest stays", async () => {
    const running = [newId("bkp"), newId("bkp")].map((id, i) => ({
      ...base,
      id,
      tenantId: `t-fin-${i}`,
      status: "running" as const,
      period: "2026-11-26",
      metadata: { attempt: 1 },
    }));
    await insertBackupRecords(catalog.db, running);
    expect(await getBackupRecord(catalog.db, running[1]!.id)).toMatchObject({
      status: "running",
      tenantId: "t-fin-1",
      fileSize: 0,
      checksum: "",
      providers: {},
      verificationStatus: "pending",
      metadata: { attempt: 1 },
    });
    const done = await finishBackupRecords(catalog.db, [
      { ...running[0]!, status: "completed", fileSize: 42, checksum: "c", completedAt: new Date(), metadata: { attempt: 1, rows: 3 } },
      { ...running[1]!, status: "failed", errorMessage: "boom", completedAt: new Date() },
    ]);
    expect(done.map((r) => [r.id, r.status]).sort()).toEqual(running.map((r, i) => [r.id, i === 0 ? "completed" : "failed"]).sort());
    const first = await getBackupRecord(catalog.db, running[0]!.id);
    expect(first).toMatchObject({ status: "completed", fileSize: 42, checksum: "c", period: "2026-11-26", metadata: { attempt: 1, rows: 3 } });
    expect(await getBackupRecord(catalog.db, running[1]!.id)).toMatchObject({ status: "failed", errorMessage: "boom", fileSize: 0, checksum: "" });
    expect(first!.completedAt).toBeInstanceOf(Date);
    expect(await finishBackupRecords(catalog.db, [])).toEqual([]);
  });

  it("find the latest restorable backup at or before a time, skipping failed ones and rollback points", async () => {
    const t = "t2";
    const at = (iso: string) => new Date(iso);
    const a = newId("bkp");
    const b = newId("bkp");
    await insertBackupRecord(catalog.db, { ...base, id: a, tenantId: t, status: "completed", createdAt: at("2026-11-01T00:00:00Z") });
    await insertBackupRecord(catalog.db, { ...base, id: b, tenantId: t, status: "degraded", createdAt: at("2026-11-02T00:00:00Z") });
    await insertBackupRecord(catalog.db, { ...base, id: newId("bkp"), tenantId: t, status: "failed", createdAt: at("2026-11-03T00:00:00Z") });
    await insertBackupRecord(catalog.db, {
      ...base,
      id: newId("bkp"),
      tenantId: t,
      status: "completed",
      purpose: "pre_restore",
      createdAt: at("2026-11-04T00:00:00Z"),
    });
    expect((await latestRestorableBackup(catalog.db, { tenantId: t }))!.id).toBe(b);
    expect((await latestRestorableBackup(catalog.db, { tenantId: t, at: at("2026-11-01T12:00:00Z") }))!.id).toBe(a);
    expect(await latestRestorableBackup(catalog.db, { tenantId: t, at: at("2026-10-01T00:00:00Z") })).toBeUndefined();
  });

  it("allow one backup per tenant per period", async () => {
    await insertBackupRecord(catalog.db, { ...base, id: newId("bkp"), tenantId: "t3", period: "2026-11-26" });
    await expect(insertBackupRecord(catalog.db, { ...base, id: newId("bkp"), tenantId: "t3", period: "2026-11-26" })).rejects.toThrow();
  });
});

describe("alerts", () => {
  it("raiseAlert records the alert and publishes alert.raised.v1 with its id", async () => {
    const published: { type: string; data: unknown }[] = [];
    const id = await raiseAlert(
      { catalog, publish: async (type, data) => void published.push({ type, data }) },
      { severity: "warning", code: "test_alert", message: "something to look at", context: { tenantId: "t9" } },
    );
    expect(id).toMatch(/^alr_/);
    const [row] = await catalog.db.select().from(alerts).where(eq(alerts.id, id!));
    expect(row).toMatchObject({ severity: "warning", code: "test_alert", message: "something to look at", context: { tenantId: "t9" } });
    expect(published).toEqual([
      { type: "alert.raised.v1", data: { alertId: id, severity: "warning", code: "test_alert", message: "something to look at", context: { tenantId: "t9" } } },
    ]);
  });

  it("raiseAlert with a key raises one alert for it, however many places and times raise it (at once, too)", async () => {
    const published: unknown[] = [];
    const deps = { catalog, publish: async (_type: string, data: unknown) => void published.push(data) };
    const key = `job:${newId("job")}`;
    const ids = await Promise.all([
      raiseAlert(deps, { severity: "critical", code: "tenant_backup_failed", message: "backup of tenant t1 failed", key }),
      raiseAlert(deps, { severity: "critical", code: "job_dead_lettered", message: "dead-lettered", key }),
    ]);
    const again = await raiseAlert(deps, { severity: "critical", code: "job_dead_lettered", message: "dead-lettered", key });
    const rows = await catalog.db.select().from(alerts).where(eq(alerts.dedupKey, key));
    expect(rows).toHaveLength(1);
    expect(ids).toEqual([rows[0]!.id, rows[0]!.id]);
    expect(again).toBe(rows[0]!.id);
    expect(published).toHaveLength(1);
    // without a key, nothing is deduplicated
    await raiseAlert(deps, { severity: "info", code: "test_twice", message: "twice" });
    await raiseAlert(deps, { severity: "info", code: "test_twice", message: "twice" });
    expect(await catalog.db.select().from(alerts).where(eq(alerts.code, "test_twice"))).toHaveLength(2);
  });

  it("raiseAlert with a group: one open alert per condition counting its occurrences; each key counted once; resolved, the next raise is new", async () => {
    const published: unknown[] = [];
    const deps = { catalog, publish: async (_type: string, data: unknown) => void published.push(data) };
    const group = `tenant_backup_failed:${newId("job")}`;
    const failed = (job: string) => ({ severity: "critical" as const, code: "tenant_backup_failed", message: "backup failed", key: `job:${job}`, group });
    const [a, b] = await Promise.all([raiseAlert(deps, failed("g1")), raiseAlert(deps, failed("g2"))]);
    expect(a).toBe(b);
    // the dead letters of both jobs (same keys): no new alert, no extra count
    const dead = (job: string) => raiseAlert(deps, { severity: "critical", code: "job_dead_lettered", message: "dead-lettered", key: `job:${job}` });
    expect(await dead("g1")).toBe(a);
    expect(await dead("g2")).toBe(a);
    const open = async () => catalog.db.select().from(alerts).where(eq(alerts.groupKey, group));
    expect((await open()).map((r) => [r.id, r.occurrences, r.resolvedAt])).toEqual([[a, 2, null]]);
    expect((await open())[0]!.lastRaisedAt).toBeInstanceOf(Date);
    expect(published).toHaveLength(1);

    expect(await resolveAlertGroups(catalog.db, [group])).toEqual([a]);
    expect(await resolveAlertGroups(catalog.db, [group])).toEqual([]); // resolved once
    const next = await raiseAlert(deps, failed("g3"));
    expect(next).not.toBe(a);
    expect((await open()).map((r) => [r.id, r.occurrences, r.resolvedAt === null])).toEqual(
      expect.arrayContaining([
        [a, 2, false],
        [next, 1, true],
      ]),
    );
    expect(published).toHaveLength(2);
  });

  it("settleAlert: the first to acknowledge stays the one who did; a resolved alert leaves the open list and cannot be settled again", async () => {
    const id = (await raiseAlert({ catalog }, { severity: "warning", code: "test_settle", message: "to settle", context: { tenantId: "t7" } }))!;
    expect((await listAlerts(catalog.db)).map((a) => a.id)).toContain(id);
    const at = new Date("2026-01-02T03:04:05Z");
    expect(await settleAlert(catalog.db, { id, as: "acknowledged", by: "admin:first", now: at })).toEqual({ id, context: { tenantId: "t7" } });
    await settleAlert(catalog.db, { id, as: "resolved", by: "admin:second", now: new Date("2026-01-03T00:00:00Z") });
    const [row] = await catalog.db.select().from(alerts).where(eq(alerts.id, id));
    expect(row).toMatchObject({ acknowledgedBy: "admin:first", acknowledgedAt: at, resolvedAt: new Date("2026-01-03T00:00:00Z") });
    expect((await listAlerts(catalog.db)).map((a) => a.id)).not.toContain(id);
    expect((await listAlerts(catalog.db, { resolved: true })).map((a) => a.id)).toContain(id);
    expect(await settleAlert(catalog.db, { id, as: "resolved", by: "admin:third" })).toBeUndefined();
    expect(await settleAlert(catalog.db, { id: newId("alr"), as: "acknowledged", by: "admin:third" })).toBeUndefined();
  });

  it("alertOnDeadLetter raises job_dead_lettered, once per job with a key and every time without", async () => {
    const deps = { catalog };
    const messageId = newId("job");
    const dl = { subject: "cmd.test.job.v1", reason: "exhausted", messageId, error: { message: "gave up" } };
    const keyed = alertOnDeadLetter(deps, { key: (id) => `job:${id}` });
    await raiseAlert(deps, { severity: "critical", code: "tenant_backup_failed", message: "the handler's own alert", key: `job:${messageId}` });
    await keyed(dl);
    const byKey = await catalog.db
      .select()
      .from(alerts)
      .where(eq(alerts.dedupKey, `job:${messageId}`));
    expect(byKey.map((a) => a.code)).toEqual(["tenant_backup_failed"]);

    const unkeyed = alertOnDeadLetter(deps);
    await unkeyed(dl);
    await unkeyed(dl);
    const rows = (await catalog.db.select().from(alerts).where(eq(alerts.code, "job_dead_lettered"))).filter((a) => a.context.messageId === messageId);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      severity: "critical",
      message: "cmd.test.job.v1 was dead-lettered (exhausted)",
      context: { subject: "cmd.test.job.v1", reason: "exhausted", error: "gave up" },
      dedupKey: null,
    });
  });

  it("raiseAlert never throws: a catalog that cannot take it gives undefined", async () => {
    const closed = openCatalog({ url: database.url });
    await closed.close();
    expect(await raiseAlert({ catalog: closed }, { severity: "critical", code: "test_alert", message: "lost" })).toBeUndefined();
  });
});

describe("audit trail", () => {
  it("lists entries newest first, optionally one tenant's, up to the limit", async () => {
    const tenant = `t-${newId("job")}`;
    for (const action of ["first", "second", "third"]) await writeAudit(catalog.db, { actor: "test", action, tenantId: tenant });
    await writeAudit(catalog.db, { actor: "test", action: "elsewhere", tenantId: "another" });
    expect((await listAuditEntries(catalog.db, { tenantId: tenant })).map((r) => r.action)).toEqual(["third", "second", "first"]);
    expect((await listAuditEntries(catalog.db, { tenantId: tenant, limit: 2 })).map((r) => r.action)).toEqual(["third", "second"]);
    expect((await listAuditEntries(catalog.db, { limit: 1 })).map((r) => r.action)).toEqual(["elsewhere"]);
  });
});
