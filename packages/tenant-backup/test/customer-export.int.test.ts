import { execFile } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { customerExports } from "@hesaab/db";
import { openStaged, stageArtifact } from "@hesaab/artifacts";
import { readAll } from "@hesaab/storage";
import {
  artifactRef,
  backupTenant,
  buildCustomerExport,
  expireCustomerExports,
  openCustomerExport,
  requestCustomerExport,
  type CustomerExportDeps,
} from "../src";
import { harness, type Harness } from "./harness";

const run = promisify(execFile);
let h: Harness;
let deps: CustomerExportDeps;
let active: string[];
let suspended: string;

beforeAll(async () => {
  h = await harness({ tenants: 6 });
  deps = { ...h.deps, exportDir: path.join(h.deps.workDir, "exports") };
  active = h.platform.tenants.filter((t) => t.status === "active").map((t) => t.id);
  suspended = h.platform.tenants.find((t) => t.status === "suspended")!.id;
});

afterAll(async () => {
  await h?.close();
});

const day = (iso: string) => new Date(`${iso}T10:00:00Z`);

describe("customer self-backup", () => {
  it("request → build → download: a ZIP the tenant can open, encrypted at rest, kept out of the clouds", async () => {
    const tenantId = active[0]!;
    const puts = [h.b2.faults!.count("put"), h.r2.faults!.count("put")];
    const { export: requested, token } = await requestCustomerExport(deps, { tenantId, requestedBy: "user:1", now: day("2026-11-20") });
    expect(requested).toMatchObject({ status: "pending", day: "2026-11-20" });
    expect(requested.downloadTokenHash).toBe(createHash("sha256").update(token).digest("hex")); // the token itself is kept nowhere

    const ready = await buildCustomerExport(deps, { exportId: requested.id, now: () => day("2026-11-20") });
    expect(ready).toMatchObject({ status: "ready", fileSize: expect.any(Number) as number });
    expect(ready.expiresAt!.getTime() - ready.readyAt!.getTime()).toBe(24 * 3_600_000);
    expect(h.events.filter((e) => e.type === "export.customer.ready.v1").map((e) => e.data)).toContainEqual({
      exportId: ready.id,
      tenantId,
      size: ready.fileSize,
      expiresAt: ready.expiresAt!.toISOString(),
    });
    expect([h.b2.faults!.count("put"), h.r2.faults!.count("put")]).toEqual(puts); // nothing went to a cloud

    // at rest: BKP1, not a ZIP; nothing of the tenant's text readable
    const atRest = await readFile(ready.localPath!);
    expect(atRest.subarray(0, 4).toString("latin1")).not.toBe("PK\u0003\u0004");
    expect(atRest.includes(Buffer.from("HesaabPlus: a copy of your data"))).toBe(false);
    expect((await stat(ready.localPath!)).mode & 0o077).toBe(0);

    const opened = await openCustomerExport(deps, { exportId: ready.id, token, tenantId, now: day("2026-11-20") });
    expect(opened.fileName).toMatch(/^hesaab-export-2026-11-20-exp_.+\.zip$/);
    const zip = path.join(h.deps.workDir, "download.zip");
    await pipeline(opened.stream, createWriteStream(zip));
    expect(await opened.delivered()).toBe(true); // counted once delivered whole
    const { stdout } = await run("unzip", ["-Z1", zip]);
    expect(stdout).toMatch(/README\.txt/);
    expect(stdout).toMatch(/backup\.sql/);
    expect(stdout).toMatch(/tables\/public\.invoices\.csv/);
    const [row] = await h.deps.catalog.db.select().from(customerExports).where(eq(customerExports.id, ready.id));
    expect(row).toMatchObject({ downloadCount: 1 });
    // built again (a redelivered request): the same export, not a second one
    expect((await buildCustomerExport(deps, { exportId: ready.id })).checksum).toBe(ready.checksum);
  });

  it("once a day: of ten requests at once, one wins and nine are told why", async () => {
    const tenantId = active[1]!;
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => requestCustomerExport(deps, { tenantId, requestedBy: "user:2", now: day("2026-11-21") })),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(refused).toHaveLength(9);
    for (const r of refused) expect(r.reason).toMatchObject({ code: "export_daily_limit" });
    expect((refused[0]!.reason as Error).message).toContain("2026-11-21");
    // the next day, again
    await expect(requestCustomerExport(deps, { tenantId, requestedBy: "user:2", now: day("2026-11-22") })).resolves.toMatchObject({
      export: { day: "2026-11-22" },
    });
  });

  it("the link opens only for its tenant and its token, and only while it lasts", async () => {
    const [a, b] = [active[2]!, active[3]!];
    const { export: requested, token } = await requestCustomerExport(deps, { tenantId: a, requestedBy: "user:3", now: day("2026-11-23") });
    await expect(openCustomerExport(deps, { exportId: requested.id, token, tenantId: a, now: day("2026-11-23") })).rejects.toMatchObject({
      code: "export_not_ready",
      retryable: true,
    });
    const ready = await buildCustomerExport(deps, { exportId: requested.id, now: () => day("2026-11-23") });
    await expect(openCustomerExport(deps, { exportId: ready.id, token, tenantId: b, now: day("2026-11-23") })).rejects.toMatchObject({
      code: "export_not_found",
    });
    await expect(openCustomerExport(deps, { exportId: ready.id, token: `${token}x`, tenantId: a, now: day("2026-11-23") })).rejects.toMatchObject({
      code: "export_not_found",
    });
    await expect(openCustomerExport(deps, { exportId: ready.id, token: "", tenantId: a, now: day("2026-11-23") })).rejects.toMatchObject({
      code: "export_not_found",
    });
    const late = new Date(ready.expiresAt!.getTime() + 1);
    await expect(openCustomerExport(deps, { exportId: ready.id, token, tenantId: a, now: late })).rejects.toMatchObject({ code: "export_expired" });

    // the sweep removes the file and its key sidecar; the link stays dead
    expect(await expireCustomerExports(deps, { now: late })).toContain(ready.id);
    expect((await readdir(path.dirname(ready.localPath!))).filter((f) => f.startsWith(ready.id))).toEqual([]);
    await expect(openCustomerExport(deps, { exportId: ready.id, token, tenantId: a, now: day("2026-11-23") })).rejects.toMatchObject({
      code: "export_expired",
    });
    expect(h.events.filter((e) => e.type === "export.customer.expired.v1").map((e) => e.data)).toContainEqual({ exportId: ready.id, tenantId: a });
  });

  it("a tenant that does not exist or is suspended gets a clear error and no export", async () => {
    await expect(requestCustomerExport(deps, { tenantId: randomUUID(), requestedBy: "user:4" })).rejects.toMatchObject({ code: "tenant_not_found" });
    await expect(requestCustomerExport(deps, { tenantId: suspended, requestedBy: "user:4" })).rejects.toMatchObject({ code: "tenant_not_active" });
    await expect(requestCustomerExport(deps, { tenantId: "x'; drop table tenants; --", requestedBy: "user:4" })).rejects.toMatchObject({
      code: "invalid_tenant_id",
    });
    await expect(requestCustomerExport(deps, { tenantId: "..", requestedBy: "user:4" })).rejects.toMatchObject({ code: "invalid_tenant_id" }); // a valid id, not a directory
    const rows = await h.deps.catalog.db.select().from(customerExports).where(eq(customerExports.tenantId, suspended));
    expect(rows).toEqual([]);
  });

  it("a build stopped midway (a worker shutting down) stays pending and is built by the next delivery; a tenant suspended meanwhile fails it", async () => {
    const tenantId = active[0]!;
    const { export: requested } = await requestCustomerExport(deps, { tenantId, requestedBy: "user:5", now: day("2026-11-24") });
    const controller = new AbortController();
    controller.abort();
    await expect(buildCustomerExport(deps, { exportId: requested.id, signal: controller.signal })).rejects.toMatchObject({
      code: "export_aborted",
      retryable: true,
    });
    const row = async (id: string) => (await h.deps.catalog.db.select().from(customerExports).where(eq(customerExports.id, id)))[0]!;
    expect(await row(requested.id)).toMatchObject({ status: "pending" });
    expect((await readdir(path.join(deps.exportDir, tenantId)).catch(() => [])).filter((f) => f.startsWith(requested.id))).toEqual([]);
    expect(await buildCustomerExport(deps, { exportId: requested.id })).toMatchObject({ status: "ready" });

    const other = active[1]!;
    const { export: doomed } = await requestCustomerExport(deps, { tenantId: other, requestedBy: "user:5", now: day("2026-11-24") });
    await h.deps.platform.query("update tenants set status = 'suspended' where id = $1", [other]);
    try {
      await expect(buildCustomerExport(deps, { exportId: doomed.id })).rejects.toMatchObject({ code: "tenant_not_active" });
    } finally {
      await h.deps.platform.query("update tenants set status = 'active' where id = $1", [other]);
    }
    const failed = await row(doomed.id);
    expect(failed).toMatchObject({ status: "failed" });
    expect((await readdir(path.join(deps.exportDir, other)).catch(() => [])).filter((f) => f.startsWith(doomed.id))).toEqual([]);
    await expect(openCustomerExport(deps, { exportId: doomed.id, token: "x", tenantId: other })).rejects.toMatchObject({ code: "export_not_found" });
    expect(await expireCustomerExports(deps, { now: new Date(failed.expiresAt!.getTime() + 1) })).toContain(doomed.id);
  });

  it("credentials stay out of the customer's ZIP (the built-in patterns, and those configured), and in the tenant backup a restore loads", async () => {
    const tenantId = active[0]!;
    const configured: CustomerExportDeps = { ...deps, excludeColumns: { defaults: true, patterns: ["customers.national_id"] } };
    const { export: requested, token } = await requestCustomerExport(configured, { tenantId, requestedBy: "user:7", now: day("2026-11-26") });
    const ready = await buildCustomerExport(configured, { exportId: requested.id, now: () => day("2026-11-26") });
    const zip = path.join(h.deps.workDir, "credentials.zip");
    await pipeline((await openCustomerExport(deps, { exportId: ready.id, token, tenantId, now: day("2026-11-26") })).stream, createWriteStream(zip));
    // every file but the README (which names what was left out)
    const { stdout: data } = await run("unzip", ["-p", zip, "-x", "*/README.txt"], { maxBuffer: 256 * 1024 * 1024 });
    expect(data).toContain("COPY public.users (");
    expect(data).not.toContain("password_hash");
    expect(data).not.toContain("national_id");
    const { stdout: readme } = await run("unzip", ["-p", zip, "*/README.txt"]);
    expect(readme).toContain("  public.users.password_hash\r\n");

    const { record } = await backupTenant(h.deps, { tenantId, purpose: "on_demand", requestedBy: "test" });
    const staged = await stageArtifact({ ref: artifactRef(record), backends: h.deps.backends, dir: h.deps.workDir });
    const sql = (await readAll(await openStaged({ staged, keyRing: h.deps.keyRing }))).toString("utf8");
    await staged.remove();
    expect(sql).toMatch(/COPY public\.users \([^)]*password_hash[^)]*\) FROM stdin;/);
    expect(sql).toMatch(/COPY public\.customers \([^)]*national_id[^)]*\) FROM stdin;/);
  });

  it("two workers on one export: one builds it, the other is told to retry; the sweep leaves an export being built alone", async () => {
    const tenantId = active[2]!;
    const { export: requested, token } = await requestCustomerExport(deps, { tenantId, requestedBy: "user:6", now: day("2026-11-25") });
    const both = await Promise.allSettled([buildCustomerExport(deps, { exportId: requested.id }), buildCustomerExport(deps, { exportId: requested.id })]);
    expect(both.filter((r) => r.status === "fulfilled").length).toBeGreaterThanOrEqual(1);
    for (const r of both) if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "export_in_progress", retryable: true });
    const opened = await openCustomerExport(deps, { exportId: requested.id, token, tenantId, now: day("2026-11-25") });
    const zip = path.join(h.deps.workDir, "both.zip");
    await pipeline(opened.stream, createWriteStream(zip));
    await run("unzip", ["-tq", zip]); // a whole, readable ZIP
    expect((await readdir(path.join(deps.exportDir, tenantId))).filter((f) => f.endsWith(".partial"))).toEqual([]);

    // held by a "worker": the sweep skips it, then takes it once free
    const holder = await h.deps.catalog.pool.connect();
    try {
      await holder.query("select pg_advisory_lock(hashtext($1 || $2))", ["hesaab.customer-export:", requested.id]);
      // a second worker, for certain (not by the race above): told to retry, nothing touched
      await expect(buildCustomerExport(deps, { exportId: requested.id })).rejects.toMatchObject({ code: "export_in_progress", retryable: true });
      const later = new Date(Date.now() + 48 * 3_600_000);
      expect(await expireCustomerExports(deps, { now: later })).not.toContain(requested.id);
      await holder.query("select pg_advisory_unlock(hashtext($1 || $2))", ["hesaab.customer-export:", requested.id]);
      expect(await expireCustomerExports(deps, { now: later })).toContain(requested.id);
    } finally {
      holder.release();
    }
  });
});
