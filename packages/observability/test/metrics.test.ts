import { makeMessage } from "@hesaab/contracts";
import { metricValue, parsePrometheusText } from "@hesaab/testkit";
import { describe, expect, it } from "vitest";
import { ServiceMetrics, sizeBucket } from "../src";

const backupId = "bkp_0123456789abcdefghjkmnpqrs";
const tenantId = "11111111-1111-4111-8111-111111111111";

async function scrape(metrics: ServiceMetrics) {
  return parsePrometheusText(await metrics.text());
}

describe("ServiceMetrics", () => {
  it("turns outcome events into counters and histograms with bounded labels, never a tenant id", async () => {
    const metrics = new ServiceMetrics({ service: "test", defaultMetrics: false });
    const observer = metrics.busObserver();
    observer.published!(makeMessage("backup.tenant.started.v1", { backupId, tenantId, purpose: "scheduled", attempt: 1 }));
    observer.published!(
      makeMessage("backup.tenant.completed.v1", {
        backupId,
        tenantId,
        status: "degraded",
        size: 2_000_000,
        sha256: "a".repeat(64),
        rows: 10,
        sourceBytes: 4_000_000,
        providers: [
          { provider: "b2", ok: true },
          { provider: "r2", ok: false, error: "unreachable" },
        ],
        durationMs: 1500,
      }),
    );
    observer.published!(makeMessage("backup.tenant.failed.v1", { backupId, tenantId, attempt: 3, final: true, error: { code: "x", message: "y" } }));
    observer.published!(makeMessage("storage.verification.result.v1", { backupId, provider: "r2", depth: "keyless", ok: false } as never));
    observer.delivered!({ durable: "backup-svc", attempt: 2, type: "backup.tenant.job.v1" });
    observer.delivered!({ durable: "backup-svc", attempt: 1, type: "backup.tenant.job.v1" });
    observer.deadLettered!({ durable: "backup-svc", reason: "exhausted" });

    const m = await scrape(metrics);
    expect(metricValue(m, "hesaab_backups_started_total", { type: "tenant" })).toBe(1);
    expect(metricValue(m, "hesaab_backups_finished_total", { type: "tenant", outcome: "degraded" })).toBe(1);
    expect(metricValue(m, "hesaab_backups_finished_total", { type: "tenant", outcome: "failed" })).toBe(1);
    expect(metricValue(m, "hesaab_backup_provider_uploads_total", { provider: "r2", outcome: "failed" })).toBe(1);
    expect(metricValue(m, "hesaab_backup_source_bytes_total")).toBe(4_000_000);
    expect(metricValue(m, "hesaab_backup_stored_bytes_total")).toBe(2_000_000);
    expect(metricValue(m, "hesaab_backup_duration_seconds", { size_bucket: "1mb_10mb" })).toBe(1);
    expect(metricValue(m, "hesaab_verifications_total", { provider: "r2", outcome: "failed" })).toBe(1);
    expect(metricValue(m, "hesaab_bus_redeliveries_total", { durable: "backup-svc" })).toBe(1);
    expect(metricValue(m, "hesaab_bus_dead_letters_total", { reason: "exhausted" })).toBe(1);
    for (const family of m.values()) for (const sample of family.samples) expect(Object.values(sample.labels)).not.toContain(tenantId);
  });

  it("names every metric with the hesaab_ prefix and a unit or _total suffix", async () => {
    const metrics = new ServiceMetrics({ service: "test", defaultMetrics: false });
    metrics.storageUsageGauges(async () => [{ provider: "b2", bytes: 10, objects: 2, monthlyCostUsd: 0.5 }]);
    const names = await metrics.names();
    expect(names.length).toBeGreaterThan(20);
    for (const name of names) expect(name).toMatch(/^hesaab_[a-z0-9_]+(_total|_seconds|_bytes|_objects|_usd|_ratio|_up)$/);
    const m = await scrape(metrics);
    expect(metricValue(m, "hesaab_storage_stored_bytes", { provider: "b2" })).toBe(10);
    expect(metricValue(m, "hesaab_storage_estimated_monthly_cost_usd", { provider: "b2" })).toBe(0.5);
  });

  it("counts storage requests of every metered backend of the process", async () => {
    const metrics = new ServiceMetrics({ service: "test", defaultMetrics: false });
    metrics.recordStorageOp({ provider: "b2", op: "put", key: "k", ok: true, ms: 12, bytes: 100 });
    metrics.recordStorageOp({ provider: "r2", op: "head", key: "k", ok: false, ms: 3, error: { code: "unreachable", message: "down" } });
    const m = await scrape(metrics);
    expect(metricValue(m, "hesaab_storage_request_duration_seconds", { provider: "b2", op: "put", outcome: "ok" })).toBe(1);
    expect(metricValue(m, "hesaab_storage_request_errors_total", { provider: "r2", code: "unreachable" })).toBe(1);
    expect(metricValue(m, "hesaab_storage_transfer_bytes_total", { provider: "b2", op: "put" })).toBe(100);
  });

  it("puts a backup in its size bucket", () => {
    expect(sizeBucket(0)).toBe("lt_1mb");
    expect(sizeBucket(5 << 20)).toBe("1mb_10mb");
    expect(sizeBucket(2 ** 31)).toBe("gt_1gb");
  });
});
