// backupTenants: many tenants at once, small ones in batches, large ones alone; every tenant gets
// the record, the artifacts and the events a single backup gives it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStaged, stageArtifact } from "@hesaab/artifacts";
import { listBackupRecords } from "@hesaab/db";
import { tableChecksums } from "@hesaab/platform";
import pg from "pg";
import { readAll, type StorageBackend } from "@hesaab/storage";
import { activeTenants, artifactRef, BackupJobBatcher, backupTenant, backupTenants, restoreTenants, type TenantBackupOutcome } from "../src";
import { harness, type Harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await harness({ tenants: 9, seed: 5, largeScale: 4 });
});
afterAll(async () => {
  await h?.close();
});

const MISSING = "00000000-0000-4000-8000-000000000000";
const records = (tenantId: string) => listBackupRecords(h.deps.catalog.db, { tenantId });
const ok = (o: TenantBackupOutcome) => {
  if (!o.ok) throw o.error;
  return o.record;
};

async function script(record: Awaited<ReturnType<typeof records>>[number]): Promise<string> {
  const staged = await stageArtifact({ ref: artifactRef(record), backends: h.deps.backends, dir: h.deps.workDir });
  try {
    return (await readAll(await openStaged({ staged, keyRing: h.deps.keyRing }))).toString("utf8");
  } finally {
    await staged.remove();
  }
}

describe("backupTenants", () => {
  it("backs up every tenant once, in batches; a tenant too large for a batch goes alone; missing and suspended ones fail alone", async () => {
    const active = await activeTenants(h.deps);
    const largest = h.platform.tenants[0]!; // the generator's first tenant is the large one
    const suspended = h.platform.tenants.find((t) => t.status === "suspended")!;
    const seen: string[] = [];
    const outcomes = await backupTenants(h.deps, {
      tenantIds: [...active, suspended.id, MISSING],
      purpose: "on_demand",
      requestedBy: "test",
      batchSize: 3,
      smallTenantBytes: 256 * 1024,
      onResult: (o) => seen.push(o.tenantId),
    });
    expect(outcomes.map((o) => o.tenantId)).toEqual([...active, suspended.id, MISSING]);
    expect(seen.sort()).toEqual([...active, suspended.id, MISSING].sort());
    expect(outcomes.slice(-2).map((o) => !o.ok && (o.error as { code?: string }).code)).toEqual(["tenant_not_active", "tenant_not_found"]);

    const progress = new Set(h.events.filter((e) => e.type === "backup.tenant.progress.v1").map((e) => (e.data as { tenantId: string }).tenantId));
    expect(progress).toEqual(new Set([largest.id])); // only the streamed backup reports progress: it went alone
    for (const o of outcomes.slice(0, active.length)) {
      const record = ok(o);
      expect(record).toMatchObject({ status: "completed", purpose: "on_demand", tenantId: o.tenantId });
      expect(Object.keys(record.providers).sort()).toEqual(["b2", "r2"]);
      const t = h.platform.tenants.find((x) => x.id === o.tenantId)!;
      expect(record.metadata.rows).toBe(Object.values(t.rows).reduce((a, b) => a + b, 0));
      expect((await records(o.tenantId)).map((r) => r.status)).toEqual(["completed"]); // one record, none left behind
      const sql = await script(record);
      for (const other of h.platform.tenants.filter((x) => x.id !== o.tenantId)) expect(sql).not.toContain(other.id);
      expect(sql).toMatch(/COPY public\.invoice_line_taxes/);
    }
    const eventTenants = (type: string) => new Set(h.events.filter((e) => e.type === type).map((e) => (e.data as { tenantId: string }).tenantId));
    expect(eventTenants("backup.tenant.started.v1")).toEqual(new Set([...active, suspended.id, MISSING])); // as a single backup: started, then refused
    for (const type of ["storage.artifact.stored.v1", "backup.tenant.completed.v1"]) expect(eventTenants(type), type).toEqual(new Set(active));

    // the next run knows the large tenant from its last backup: it goes alone without being read in a batch
    h.events.length = 0;
    const again = await backupTenants(h.deps, { tenantIds: active, purpose: "on_demand", requestedBy: "test", batchSize: 3, smallTenantBytes: 256 * 1024 });
    expect(again.every((o) => o.ok)).toBe(true);
    expect(new Set(h.events.filter((e) => e.type === "backup.tenant.progress.v1").map((e) => (e.data as { tenantId: string }).tenantId))).toEqual(
      new Set([largest.id]),
    );
  });

  it("a backup made in a batch restores the tenant's rows exactly", async () => {
    const [first, second] = (await activeTenants(h.deps)).slice(1);
    const before = await tableChecksums({ pool: h.deps.platform, tenantId: first! });
    const outcomes = await backupTenants(h.deps, { tenantIds: [first!, second!], purpose: "on_demand", requestedBy: "test" });
    const record = ok(outcomes[0]!);
    await h.deps.platform.query("update public.customers set name = 'changed' where tenant_id = $1", [first]);
    const report = await restoreTenants(h.deps, { tenantIds: [first!], backupId: record.id, provider: "r2", requestedBy: "test" });
    expect(report.status).toBe("completed");
    expect(await tableChecksums({ pool: h.deps.platform, tenantId: first! })).toEqual(before);
  });

  it("one provider failing: degraded; both failing: each tenant fails retryably with a failed record, none completed", async () => {
    const tenants = (await activeTenants(h.deps)).slice(2, 5);
    h.r2.faults!.failAlways("put");
    try {
      const degraded = await backupTenants(h.deps, { tenantIds: tenants, purpose: "on_demand", requestedBy: "test" });
      for (const o of degraded) expect(ok(o)).toMatchObject({ status: "degraded", r2Location: null });
      h.b2.faults!.failAlways("put");
      const failed = await backupTenants(h.deps, { tenantIds: tenants, purpose: "on_demand", requestedBy: "test" });
      for (const o of failed) {
        expect(o).toMatchObject({ ok: false, error: { retryable: true } });
        expect((await records(o.tenantId))[0]).toMatchObject({ status: "failed" });
      }
    } finally {
      h.b2.faults!.clear();
      h.r2.faults!.clear();
    }
  });

  it("one backup per tenant per period, with batches and single backups racing", async () => {
    const tenants = (await activeTenants(h.deps)).slice(1, 5);
    const period = "2026-11-27";
    const ask = { purpose: "scheduled" as const, period, requestedBy: "schedule" };
    const [a, b, single] = await Promise.all([
      backupTenants(h.deps, { ...ask, tenantIds: tenants }),
      backupTenants(h.deps, { ...ask, tenantIds: [...tenants].reverse() }),
      backupTenant(h.deps, { ...ask, tenantId: tenants[0]! }).catch((e: unknown) => e),
    ]);
    for (const o of [...a, ...b]) if (!o.ok) expect(o.error).toMatchObject({ code: "backup_in_progress", retryable: true });
    if (single instanceof Error) expect(single).toMatchObject({ code: "backup_in_progress" });
    const after = await backupTenants(h.deps, { ...ask, tenantIds: tenants });
    expect(after.every((o) => o.ok && o.skipped)).toBe(true);
    for (const tenantId of tenants) {
      const good = (await records(tenantId)).filter((r) => r.period === period && r.status === "completed");
      expect(good, tenantId).toHaveLength(1);
      expect(after.find((o) => o.tenantId === tenantId)).toMatchObject({ record: { id: good[0]!.id } });
    }
  });
});

/** Counts each storage operation made through `backend` (the real one, wrapped). */
function countingBackend(backend: StorageBackend, calls: string[]): StorageBackend {
  return {
    name: backend.name,
    put: (...a) => (calls.push(`put ${backend.name}`), backend.put(...a)),
    head: (...a) => (calls.push(`head ${backend.name}`), backend.head(...a)),
    get: (...a) => (calls.push(`get ${backend.name}`), backend.get(...a)),
    list: (...a) => (calls.push(`list ${backend.name}`), backend.list(...a)),
    delete: (...a) => (calls.push(`delete ${backend.name}`), backend.delete(...a)),
  };
}

describe("the requests of a batch", () => {
  it("a batch of N small tenants makes exactly 4N storage requests (artifact and key sidecar, each provider) and as many statements whatever N", async () => {
    const small = (await activeTenants(h.deps)).filter((t) => t !== h.platform.tenants[0]!.id);
    const storage: string[] = [];
    const deps = { ...h.deps, backends: h.deps.backends.map((b) => countingBackend(b, storage)) };
    // every statement of every pg client (catalog, keys, platform reads), the batch's COPYs included
    const query = pg.Client.prototype.query;
    let statements = 0;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      statements++;
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    const run = async (tenantIds: string[]) => {
      storage.length = 0;
      statements = 0;
      const outcomes = await backupTenants(deps, { tenantIds, purpose: "on_demand", requestedBy: "test", batchSize: tenantIds.length });
      expect(outcomes.map((o) => o.ok && o.record.status)).toEqual(tenantIds.map(() => "completed"));
      return { storage: [...storage].sort(), statements };
    };
    try {
      await run(small); // warm: the plan is discovered once a minute, a tenant's first key is created once
      const two = await run(small.slice(0, 2));
      const five = await run(small.slice(0, 5));
      expect(two.storage).toEqual([...Array(4).fill("put b2"), ...Array(4).fill("put r2")]);
      expect(five.storage).toEqual([...Array(10).fill("put b2"), ...Array(10).fill("put r2")]);
      expect(five.statements).toBe(two.statements); // per batch, not per tenant
    } finally {
      pg.Client.prototype.query = query;
    }
  });
});

describe("a period whose backup expired", () => {
  it("gets no second backup, batch or single, with a clear error; the other tenants of the batch go on", async () => {
    const [gone, other] = (await activeTenants(h.deps)).slice(1, 3);
    const period = "2026-11-20";
    const first = ok((await backupTenants(h.deps, { tenantIds: [gone!], purpose: "scheduled", period, requestedBy: "schedule" }))[0]!);
    await h.deps.catalog.pool.query("update backup.backup_records set status = 'expired' where id = $1", [first.id]);
    const outcomes = await backupTenants(h.deps, { tenantIds: [gone!, other!], purpose: "scheduled", period, requestedBy: "schedule" });
    expect(outcomes[0]).toMatchObject({ ok: false, error: { code: "backup_period_taken", retryable: false } });
    expect(ok(outcomes[1]!)).toMatchObject({ status: "completed", period });
    await expect(backupTenant(h.deps, { tenantId: gone!, purpose: "scheduled", period, requestedBy: "schedule" })).rejects.toMatchObject({
      code: "backup_period_taken",
    });
    expect((await records(gone!)).filter((r) => r.period === period).map((r) => r.status)).toEqual(["expired"]);
  });
});

describe("BackupJobBatcher", () => {
  it("backs up the jobs that arrive together in one run, each job with its own outcome", async () => {
    const tenants = (await activeTenants(h.deps)).slice(1);
    const batcher = new BackupJobBatcher(h.deps, { batchSize: 50, lingerMs: 50 });
    const job = (tenantId: string) => ({ tenantId, purpose: "scheduled" as const, period: "2026-11-28", requestedBy: "schedule" });
    const delivery = { attempt: 1, final: false };
    // count the platform connections the run takes: one run for all, not one per tenant
    const connect = h.deps.platform.connect.bind(h.deps.platform);
    let connections = 0;
    h.deps.platform.connect = (() => {
      connections++;
      return connect();
    }) as typeof h.deps.platform.connect;
    try {
      const outcomes = await Promise.all([...tenants, tenants[0]!, MISSING].map((t) => batcher.run(job(t), delivery)));
      expect(outcomes.map((o) => o.tenantId)).toEqual([...tenants, tenants[0]!, MISSING]);
      for (const o of outcomes.slice(0, -1)) expect(ok(o)).toMatchObject({ status: "completed", period: "2026-11-28" });
      expect(outcomes[0]).toBe(outcomes[tenants.length]); // the same tenant twice: one backup, both jobs told
      expect(outcomes.at(-1)).toMatchObject({ ok: false, error: { code: "tenant_not_found" } });
      expect(connections).toBeLessThan(tenants.length);
    } finally {
      h.deps.platform.connect = connect;
    }
  });

  it("runs at most `runs` groups at once; the others wait their turn and complete", async () => {
    const tenants = (await activeTenants(h.deps)).slice(1, 4);
    const batcher = new BackupJobBatcher(h.deps, { lingerMs: 10, runs: 1 });
    const ask = (tenantId: string, period: string) =>
      batcher.run({ tenantId, purpose: "scheduled", period, requestedBy: "schedule" }, { attempt: 1, final: false });
    const outcomes = await Promise.all(["2026-11-29", "2026-11-30", "2026-12-01"].flatMap((period) => tenants.map((t) => ask(t, period))));
    for (const o of outcomes) expect(ok(o)).toMatchObject({ status: "completed" });
    expect(new Set(outcomes.map((o) => ok(o).period))).toEqual(new Set(["2026-11-29", "2026-11-30", "2026-12-01"]));
    // one run at a time: each period's backups all ended before the next period's began
    const spans = ["2026-11-29", "2026-11-30", "2026-12-01"]
      .map((period) => outcomes.map(ok).filter((r) => r.period === period))
      .map((rs) => ({ start: Math.min(...rs.map((r) => r.createdAt.getTime())), end: Math.max(...rs.map((r) => r.completedAt!.getTime())) }))
      .sort((a, b) => a.start - b.start);
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.start).toBeGreaterThanOrEqual(spans[i - 1]!.end);
  });
});
