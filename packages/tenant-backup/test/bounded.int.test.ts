/**
 * Large tenants (bounded.ts): a backup that fails for time is taken again bounded (per-table,
 * keyset-paged short transactions), its rows round-trip exactly, its record and manifest say so; a
 * failure that is not about size or time is not retried bounded. Faults are real: the test holds an
 * ACCESS EXCLUSIVE lock on one platform table, and the backup's connections have a real
 * statement_timeout, so the single-snapshot export's LOCK TABLE is cancelled (SQLSTATE 57014).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { listBackupRecords } from "@hesaab/db";
import { tableChecksums } from "@hesaab/platform";
import { readMetaSidecar } from "@hesaab/storage";
import { testPool } from "@hesaab/testkit";
import { backupTenant, backupTenants, restoreTenants, type TenantBackupDeps } from "../src";
import { sizeOrTimeFailure } from "../src/bounded";
import { harness, type Harness } from "./harness";

let h: Harness;
let slow: pg.Pool;
beforeAll(async () => {
  h = await harness({ tenants: 10, seed: 17 });
  // The backup's own connections: a statement waits at most this long (a lock held by the test makes it wait for sure).
  slow = testPool({ connectionString: h.url, max: 6, options: "-c statement_timeout=1500" });
});
afterAll(async () => {
  await slow?.end();
  await h?.close();
});

/** The `rank`-th active tenant (the sample has suspended and deleted ones too). */
const tenant = (rank: number) => h.platform.tenants.filter((t) => t.status === "active")[rank - 1]!;
const checksums = (tenantId: string) => tableChecksums({ pool: h.deps.platform, tenantId });
const PAGE_ROWS = 7;

/** A transaction of the test's holding ACCESS EXCLUSIVE on `table` until `release()`. */
async function holdLock(table: string): Promise<{ release(): Promise<void> }> {
  const client = await h.deps.platform.connect();
  await client.query(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await client.query("COMMIT");
      client.release();
    },
  };
}

/** Deps reading the platform through `slow`, releasing `lock` when the `n`-th backup attempt starts (its record and event come first). */
function depsReleasingAt(n: number, lock: { release(): Promise<void> }, extra: Partial<TenantBackupDeps> = {}): TenantBackupDeps {
  let started = 0;
  return {
    ...h.deps,
    platform: slow,
    bounded: { pageRows: PAGE_ROWS },
    ...extra,
    publish: async (type, data) => {
      await h.deps.publish!(type, data);
      if (type === "backup.tenant.started.v1" && ++started === n) await lock.release();
    },
  };
}

async function restoredEquals(record: { id: string; tenantId: string | null }, before: unknown): Promise<void> {
  await h.deps.platform.query("update public.customers set name = 'changed' where tenant_id = $1", [record.tenantId]);
  expect(await checksums(record.tenantId!)).not.toEqual(before);
  const report = await restoreTenants(h.deps, { backupId: record.id, provider: "b2", requestedBy: "test" });
  expect(report.status).toBe("completed");
  expect(await checksums(record.tenantId!)).toEqual(before);
}

describe("large tenants: the bounded mode", () => {
  it("classifies real PostgreSQL failures: timeouts are size or time, a constraint violation or a primary's 40001 is not", async () => {
    const fail = async (sql: string) =>
      h.deps.platform.query(sql).then(
        () => expect.unreachable(),
        (e: unknown) => e,
      );
    const timeout = await fail("SET statement_timeout = 1; SELECT pg_sleep(5)"); // a real 57014 (SET applies to the session: reset below)
    await h.deps.platform.query("RESET statement_timeout");
    expect(sizeOrTimeFailure(timeout, { fromStandby: false })).toBe("statement_timeout");
    expect(sizeOrTimeFailure(await fail("SELECT 1/0"), { fromStandby: false })).toBeUndefined();
    const conflict = Object.assign(new Error("could not serialize access"), { code: "40001" });
    expect(sizeOrTimeFailure(conflict, { fromStandby: false })).toBeUndefined();
    expect(sizeOrTimeFailure(conflict, { fromStandby: true })).toBe("standby_recovery_conflict");
    expect(sizeOrTimeFailure(Object.assign(new Error("x"), { code: "export_tenant_too_large" }), { fromStandby: false })).toBe("out_of_memory");
  });

  it("a backup that fails for time is taken again bounded, completes, says so, and restores exactly", async () => {
    const t = tenant(1);
    const before = await checksums(t.id);
    const lock = await holdLock("public.invoice_lines");
    let record;
    try {
      // attempt 1 (one snapshot) waits on the lock until statement_timeout cancels it; attempt 2 starts with the lock gone
      ({ record } = await backupTenant(depsReleasingAt(2, lock), { tenantId: t.id, purpose: "on_demand", requestedBy: "test" }));
    } finally {
      await lock.release();
    }
    expect(record.status).toBe("completed");
    expect(record.metadata).toMatchObject({ mode: "bounded", boundedReason: "failure:statement_timeout", pageRows: PAGE_ROWS });
    const snapshots = record.metadata.tableSnapshots as Record<string, { from: string; to: string; pages: number; keyed: boolean }>;
    const rows = record.metadata.tables as Record<string, number>;
    expect(Object.keys(snapshots).sort()).toEqual(Object.keys(rows).sort());
    for (const [name, s] of Object.entries(snapshots)) {
      // each page its own transaction: the last one comes back short
      if (s.keyed) expect(s.pages, name).toBe(Math.floor(rows[name]! / PAGE_ROWS) + 1);
      expect(Date.parse(s.to)).toBeGreaterThanOrEqual(Date.parse(s.from));
    }
    expect(Object.values(snapshots).some((s) => s.pages > 1)).toBe(true);
    // the first attempt stays failed, with the timeout
    const records = await listBackupRecords(h.deps.catalog.db, { tenantId: t.id });
    expect(records.map((r) => r.status).sort()).toEqual(["completed", "failed"]);
    expect(records.find((r) => r.status === "failed")!.metadata.mode).toBeUndefined();
    // the manifest (key sidecar) says bounded too
    const meta = await readMetaSidecar({ backend: h.b2.backend, artifactKey: record.metadata.key as string });
    expect(meta?.manifest).toMatchObject({ mode: "bounded" });
    // how far apart the first and the last snapshot were
    const times = Object.values(snapshots).flatMap((s) => [Date.parse(s.from), Date.parse(s.to)]);
    expect(meta?.manifest.snapshotSpanMs).toBe(Math.max(...times) - Math.min(...times));
    await restoredEquals(record, before);
  });

  it("a failure that is not about size or time is not retried bounded", async () => {
    const t = tenant(2);
    h.b2.faults!.failAlways("put");
    h.r2.faults!.failAlways("put");
    try {
      await expect(
        backupTenant({ ...h.deps, bounded: { pageRows: PAGE_ROWS } }, { tenantId: t.id, purpose: "on_demand", requestedBy: "test" }),
      ).rejects.toMatchObject({
        retryable: true,
      });
    } finally {
      h.b2.faults!.clear();
      h.r2.faults!.clear();
    }
    const records = await listBackupRecords(h.deps.catalog.db, { tenantId: t.id });
    expect(records.map((r) => [r.status, r.metadata.mode])).toEqual([["failed", undefined]]);
  });

  it("a rollback point is never bounded: its timeout fails it", async () => {
    const t = tenant(3);
    const lock = await holdLock("public.invoice_lines");
    try {
      await expect(backupTenant(depsReleasingAt(99, lock), { tenantId: t.id, purpose: "pre_restore", requestedBy: "test" })).rejects.toMatchObject({
        context: { sqlState: "57014" },
      });
    } finally {
      await lock.release();
    }
    expect((await listBackupRecords(h.deps.catalog.db, { tenantId: t.id })).map((r) => r.status)).toEqual(["failed"]);
  });

  it("BACKUP_BOUNDED_TENANTS and the size threshold start a backup bounded", async () => {
    const t = tenant(4);
    const before = await checksums(t.id);
    const forced = await backupTenant(
      { ...h.deps, bounded: { tenants: new Set([t.id]), pageRows: PAGE_ROWS } },
      { tenantId: t.id, purpose: "on_demand", requestedBy: "test" },
    );
    expect(forced.record.metadata).toMatchObject({ mode: "bounded", boundedReason: "forced" });
    const bySize = await backupTenant({ ...h.deps, bounded: { bytes: 1, pageRows: PAGE_ROWS } }, { tenantId: t.id, purpose: "on_demand", requestedBy: "test" });
    expect(bySize.record.metadata).toMatchObject({ mode: "bounded", boundedReason: "size" });
    const small = await backupTenant({ ...h.deps, bounded: { bytes: 1 << 30 } }, { tenantId: t.id, purpose: "on_demand", requestedBy: "test" });
    expect(small.record.metadata.mode).toBeUndefined();
    await restoredEquals(bySize.record, before);
  });

  it("a batch whose snapshot fails for time backs its tenants up alone", async () => {
    const ids = [tenant(5), tenant(6), tenant(7)].map((t) => t.id);
    const lock = await holdLock("public.invoice_lines");
    let outcomes;
    try {
      // the batch's LOCK TABLE times out; the first tenant backed up alone releases the lock as it starts
      outcomes = await backupTenants(depsReleasingAt(1, lock), { tenantIds: ids, purpose: "on_demand", requestedBy: "test", concurrency: 1 });
    } finally {
      await lock.release();
    }
    expect(outcomes.map((o) => (o.ok ? "ok" : String(o.error)))).toEqual(["ok", "ok", "ok"]);
    for (const id of ids) {
      // the batch's records went (nothing was stored); each tenant has its one backup, from one snapshot
      const records = await listBackupRecords(h.deps.catalog.db, { tenantId: id });
      expect(records.map((r) => [r.status, r.metadata.mode])).toEqual([["completed", undefined]]);
    }
  });
});
