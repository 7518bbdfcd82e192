// The night's fan-out: one job per tenant, sent many at once, each exactly once however often the
// request comes (a redelivery, two schedulers, a retry after a failed send), on a real bus.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus, type Bus } from "@hesaab/bus";
import { makeMessage } from "@hesaab/contracts";
import { FAN_OUT_IN_FLIGHT, fanOutBackupRequest, type SendCommand } from "@hesaab/tenant-backup";
import { testEnv, testPool, waitFor } from "@hesaab/testkit";
import { jobSender } from "../src/service";

const prefix = `T${randomBytes(3).toString("hex")}`;
let bus: Bus;
// a request naming its tenants never asks the platform for them: a pool that is never connected
const deps = { platform: testPool({ connectionString: testEnv().PLATFORM_DATABASE_URL }) };
const TENANTS = Array.from({ length: 3 * FAN_OUT_IN_FLIGHT + 7 }, (_, i) => `fan-${i}`);

beforeAll(async () => {
  bus = await connectBus({ url: testEnv().NATS_URL!, name: "test-fan-out", prefix });
  await bus.ensureStreams();
});
afterAll(async () => {
  await bus?.deleteStreams().catch(() => {});
  await bus?.close();
  await deps.platform.end();
});

const request = (period: string) => makeMessage("backup.tenant.requested.v1", { tenantIds: TENANTS, purpose: "scheduled", period, requestedBy: "test" });

/** The service's sender, counting what it has in flight and how much at most. */
function counted(send: SendCommand) {
  const seen = { calls: 0, inFlight: 0, peak: 0 };
  const wrapped: SendCommand = async (job, opts) => {
    seen.calls++;
    seen.peak = Math.max(seen.peak, ++seen.inFlight);
    try {
      await send(job, opts);
    } finally {
      seen.inFlight--;
    }
  };
  return { seen, send: wrapped };
}

/** The jobs of a period on the work queue, by tenant (consumed, so the queue is empty after). */
async function queuedJobs(period: string): Promise<Map<string, number>> {
  const byTenant = new Map<string, number>();
  const consumption = await bus.consume({
    durable: `fan-out-${period}`,
    filter: "cmd.backup.tenant.job.v1",
    concurrency: 50,
    handler: async (m) => {
      if (m.type === "backup.tenant.job.v1" && m.data.period === period) byTenant.set(m.data.tenantId, (byTenant.get(m.data.tenantId) ?? 0) + 1);
    },
  });
  try {
    await waitFor(async () => (await bus.jsm.streams.info(bus.layout.stream("commands"))).state.messages === 0, "the work queue drained");
  } finally {
    await consumption.stop();
    await bus.jsm.consumers.delete(bus.layout.stream("commands"), `fan-out-${period}`);
  }
  return byTenant;
}

describe("fanOutBackupRequest", () => {
  it("a request delivered twice at once queues each tenant's job once, several sends in flight, never more than the bound", async () => {
    const message = request("2026-12-05");
    const a = counted(jobSender(bus));
    const b = counted(jobSender(bus));
    expect(await Promise.all([fanOutBackupRequest(deps, { message, send: a.send }), fanOutBackupRequest(deps, { message, send: b.send })])).toEqual([
      TENANTS.length,
      TENANTS.length,
    ]);
    for (const { seen } of [a, b]) {
      expect(seen.calls).toBe(TENANTS.length);
      expect(seen.peak).toBeGreaterThan(1);
      expect(seen.peak).toBeLessThanOrEqual(FAN_OUT_IN_FLIGHT);
    }
    const jobs = await queuedJobs("2026-12-05");
    expect([...jobs.keys()].sort()).toEqual([...TENANTS].sort());
    expect(new Set(jobs.values())).toEqual(new Set([1]));
  });

  it("a send that fails stops the fan-out with its error; the retried request queues the rest, each tenant once", async () => {
    const message = request("2026-12-06");
    const failAt = FAN_OUT_IN_FLIGHT + 3;
    const real = jobSender(bus);
    let calls = 0;
    const flaky = counted(async (job, opts) => {
      if (++calls === failAt) throw new Error("nats publish failed (injected)");
      await real(job, opts);
    });
    await expect(fanOutBackupRequest(deps, { message, send: flaky.send })).rejects.toThrow("nats publish failed (injected)");
    // no send starts after the failure: at most the ones already in flight finish
    expect(flaky.seen.calls).toBeLessThan(failAt + FAN_OUT_IN_FLIGHT);
    expect(flaky.seen.calls).toBeLessThan(TENANTS.length);
    await fanOutBackupRequest(deps, { message, send: real });
    const jobs = await queuedJobs("2026-12-06");
    expect([...jobs.keys()].sort()).toEqual([...TENANTS].sort());
    expect(new Set(jobs.values())).toEqual(new Set([1]));
  });
});
