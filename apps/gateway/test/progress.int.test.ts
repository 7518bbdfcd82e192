// Live progress over SSE, end to end: a backup asked for through `backups.create` runs as backup-svc
// runs it (the fan-out and job handlers of @hesaab/tenant-backup, in this process, on the real bus,
// catalog and both S3 endpoints); subscribers follow it through the gateway with @trpc/client's
// httpSubscriptionLink (the `eventsource` package as Node 20's EventSource). Sessions travel as a
// connection parameter, since an EventSource cannot send an Authorization header.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink, TRPCClientError } from "@trpc/client";
import { EventSource } from "eventsource";
import type { AppRouter, ProgressView } from "@hesaab/api";
import { connectBus, type Bus } from "@hesaab/bus";
import { makeMessage, type MessageOf } from "@hesaab/contracts";
import { openBackend } from "@hesaab/storage";
import { fanOutBackupRequest, handleBackupJob, type TenantBackupDeps } from "@hesaab/tenant-backup";
import { testEnv, testProviderConfig, waitFor } from "@hesaab/testkit";
import { startHarness, type Harness } from "./harness";

let h: Harness;
let bus: Bus;
let deps: TenantBackupDeps;
let workDir: string;

beforeAll(async () => {
  h = await startHarness("gw_progress", { tenants: 3 });
  bus = await connectBus({ url: testEnv().NATS_URL!, name: "test-backup-svc", prefix: h.env.HESAAB_BUS_PREFIX });
  workDir = await mkdtemp(path.join(os.tmpdir(), "gw-progress-"));
  deps = {
    platform: h.pool,
    catalog: h.catalog,
    keyRing: h.deps.keyRing,
    backends: (["b2", "r2"] as const).map((p) => openBackend({ backend: testProviderConfig(p) }).backend),
    retentionDays: 30,
    gzipLevel: 1,
    workDir,
    publish: async (type, data, opts) => void (await bus.publish(type, data, opts)),
  };
}, 120_000);
afterAll(async () => {
  await bus?.close();
  await h?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** A client as the apps build one: queries and mutations batched with a Bearer header, subscriptions over SSE with the session as a connection parameter. */
function client(token?: string) {
  const url = `${h.gateway.address}/trpc`;
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({ url, EventSource, connectionParams: () => (token ? { token } : {}) }),
        false: httpBatchLink({ url, headers: () => (token ? { authorization: `Bearer ${token}` } : {}) }),
      }),
    ],
  });
}

type Subscribe = (handlers: { onData(v: { id: string; data: ProgressView }): void; onError(e: unknown): void; onComplete(): void }) => {
  unsubscribe(): void;
};

/** Collects views until the subscription completes (after the final one), `stopAfter` views were seen (then unsubscribes), or it errs. */
function collect(subscribe: Subscribe, stopAfter = Infinity): Promise<{ views: ProgressView[]; error?: unknown }> {
  return new Promise((resolve) => {
    const views: ProgressView[] = [];
    let done = false;
    const finish = (error?: unknown) => {
      if (done) return;
      done = true;
      sub.unsubscribe();
      resolve(error === undefined ? { views } : { views, error });
    };
    const sub = subscribe({
      onData: ({ data }) => {
        views.push(data);
        if (views.length >= stopAfter) finish();
      },
      onError: (e) => finish(e),
      onComplete: () => finish(),
    });
  });
}

/** Runs a queued request as backup-svc does: the fan-out, then each job. */
async function runBackupRequest(operationId: string): Promise<void> {
  const request = (await waitFor(
    () => h.backupRequests.find((m) => m.id === operationId),
    "the backup request on the bus",
  )) as MessageOf<"backup.tenant.requested.v1">;
  const jobs: MessageOf<"backup.tenant.job.v1">[] = [];
  await fanOutBackupRequest(deps, { message: request, send: async (job) => void jobs.push(makeMessage("backup.tenant.job.v1", job)) });
  for (const job of jobs) await handleBackupJob(deps, { message: job, delivery: { attempt: 1, final: false, signal: new AbortController().signal } });
}

const codeOf = (e: unknown) => (e instanceof TRPCClientError ? (e.data as { code?: string } | undefined)?.code : String(e));

describe("live progress over SSE", () => {
  it("follows a tenant backup from backups.create to its outcome; a reconnect with the last event id misses nothing and repeats nothing", async () => {
    const admin = client(await h.adminSession("ops-1"));
    const tenant = h.activeTenants()[0]!;
    const answer = await admin.backups.create.mutate({ tenantIds: [tenant] });
    expect(answer.queued).toEqual([tenant]);
    const operationId = answer.operationId!;
    expect(operationId).toMatch(/^evt_/);
    const input = { kind: "backup" as const, operationId, tenantIds: [tenant] };

    // one subscriber from before the backup runs to its end; another that leaves after two views
    const whole = collect((hs) => admin.progress.operation.subscribe(input, hs));
    const firstPart = collect((hs) => admin.progress.operation.subscribe(input, hs), 2);
    await runBackupRequest(operationId);
    const { views, error } = await whole;
    expect(error).toBeUndefined();

    expect(views[0]!.type).toBe("backup.tenant.started.v1");
    const progress = views.filter((v) => v.type === "backup.tenant.progress.v1");
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((v) => v.tenantId === tenant && typeof v.rows === "number" && typeof v.bytes === "number")).toBe(true);
    const percents = views.map((v) => v.percent!);
    expect(percents.every((p, i) => i === 0 || p >= percents[i - 1]!)).toBe(true);
    expect(new Set(percents).size).toBeGreaterThan(1);
    const last = views.at(-1)!;
    expect(last).toMatchObject({ type: "backup.tenant.completed.v1", final: true, outcome: "completed", percent: 100 });
    expect(views.filter((v) => v.final)).toHaveLength(1);
    const ids = views.map((v) => Number(v.id));
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);

    // the one that left resumes after its last id: together, exactly the whole
    const { views: before } = await firstPart;
    expect(before).toHaveLength(2);
    const { views: after } = await collect((hs) => admin.progress.operation.subscribe({ ...input, lastEventId: before.at(-1)!.id }, hs));
    expect([...before, ...after].map((v) => v.id)).toEqual(views.map((v) => v.id));
    expect([...before, ...after]).toEqual(views);
  }, 120_000);

  it("follows a tenant's own export to ready; refuses another tenant's export, no session, and a tenant session on an admin subscription", async () => {
    const [a, b] = h.activeTenants();
    const owner = client(await h.tenantSession(a!));
    const mine = await owner.tenant.exports.request.mutate();
    const { views, error } = await collect((hs) => owner.tenant.exports.progress.subscribe({ exportId: mine.id }, hs));
    expect(error).toBeUndefined();
    expect(views.at(-1)).toMatchObject({ type: "export.customer.ready.v1", final: true, outcome: "ready", percent: 100 });
    const percents = views.map((v) => v.percent!);
    expect(percents.every((p, i) => i === 0 || p >= percents[i - 1]!)).toBe(true);

    const other = client(await h.tenantSession(b!));
    const theirs = await other.tenant.exports.request.mutate();
    const refused = await collect((hs) => owner.tenant.exports.progress.subscribe({ exportId: theirs.id }, hs));
    expect(refused.views).toEqual([]);
    expect(codeOf(refused.error)).toBe("NOT_FOUND");

    const anonymous = await collect((hs) => client().tenant.exports.progress.subscribe({ exportId: mine.id }, hs));
    expect(codeOf(anonymous.error)).toBe("UNAUTHORIZED");

    const asTenant = await collect((hs) => owner.progress.operation.subscribe({ kind: "backup", operationId: "evt_00000000000000000000000000" }, hs));
    expect(codeOf(asTenant.error)).toBe("UNAUTHORIZED");
    await waitFor(() => h.built.includes(theirs.id), "the other tenant's export built");
  }, 120_000);
});
