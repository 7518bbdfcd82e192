// The gateway's limits (issue 12): tRPC batches of at most TRPC_MAX_BATCH, requests per minute per
// session, link and IP on what tenants reach, a pool that has no connection free in time answering
// "retry" (503) instead of waiting for ever, and helmet's headers. On the real gateway with low limits.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";
import { waitFor } from "@hesaab/testkit";
import { PLATFORM_POOL_MAX } from "../src/gateway";
import type { AppRouter } from "@hesaab/api";
import { TRPC_MAX_BATCH } from "../src/server";
import { startHarness, type Harness } from "./harness";

const PER_SESSION = 3;
const PER_IP = 20;

let h: Harness;
beforeAll(async () => {
  h = await startHarness("gw_limits", {
    tenants: PLATFORM_POOL_MAX + 2,
    env: { GATEWAY_RATE_LIMIT_PER_SESSION: String(PER_SESSION), GATEWAY_RATE_LIMIT_PER_IP: String(PER_IP), DATABASE_CONNECT_TIMEOUT_MS: "1000" },
  });
}, 120_000);
afterAll(async () => {
  await h?.stop();
});

let sessions = 0;
/** A tenant client with a session of its own (each signed with another expiry, so no two tokens are alike). */
function client(tenantId: string) {
  const token = h.tenantSession(tenantId, { expiresInS: 3600 + sessions++ });
  return createTRPCClient<AppRouter>({
    links: [httpBatchLink({ url: `${h.gateway.address}/trpc`, headers: async () => ({ authorization: `Bearer ${await token}` }) })],
  });
}

const failure = async (p: Promise<unknown>) =>
  (await p.then(
    () => undefined,
    (e: unknown) => e,
  )) as TRPCClientError<AppRouter> | undefined;

describe("gateway limits", () => {
  it("a tRPC batch carries at most TRPC_MAX_BATCH procedures; answers carry helmet's headers; an unknown path is a sentence", async () => {
    const batch = (n: number) => fetch(`${h.gateway.address}/trpc/${Array.from({ length: n }, () => "health").join(",")}?batch=1`);
    expect((await batch(TRPC_MAX_BATCH)).status).toBe(200);
    expect((await batch(TRPC_MAX_BATCH + 1)).status).toBe(400);
    const health = await fetch(`${h.gateway.address}/trpc/health`);
    expect(health.headers.get("x-content-type-options")).toBe("nosniff");
    expect(health.headers.get("referrer-policy")).toBe("no-referrer");
    expect(health.headers.get("x-frame-options")).toBe("DENY");
    expect(health.headers.get("content-security-policy"), "the policy is the pages'").toBeNull();
    const missing = await fetch(`${h.gateway.address}/nothing/here?token=secret`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ code: "not_found", message: "nothing is served at GET /nothing/here", hint: null, retryable: false });
  });

  it("no platform connection free within DATABASE_CONNECT_TIMEOUT_MS: SERVICE_UNAVAILABLE, database_busy, retry", { timeout: 60_000 }, async () => {
    const tenants = h.platform.tenants.map((t) => t.id);
    await client(tenants[0]!).tenant.exports.request.mutate(); // the plan discovered and cached
    // every connection of the gateway's platform pool held by a request waiting on a lock of ours
    const locker = await h.pool.connect();
    let held: Promise<unknown>[] = [];
    try {
      await locker.query("begin; lock table public.tenants in access exclusive mode");
      held = tenants.slice(1, PLATFORM_POOL_MAX + 1).map((t) =>
        client(t)
          .tenant.exports.request.mutate()
          .catch((e: unknown) => e),
      );
      await waitFor(
        async () =>
          (await h.pool.query("select count(*)::int as n from pg_stat_activity where application_name = 'hesaab-gateway' and wait_event_type = 'Lock'")).rows[0]
            .n === PLATFORM_POOL_MAX,
        "every platform connection of the gateway waiting on the lock",
      );
      const busy = await failure(client(tenants[PLATFORM_POOL_MAX + 1]!).tenant.exports.request.mutate());
      expect(busy).toBeInstanceOf(TRPCClientError);
      expect(busy!.data?.code).toBe("SERVICE_UNAVAILABLE");
      expect(busy!.data?.httpStatus).toBe(503);
      expect(busy!.data?.appCode).toBe("database_busy");
      expect(busy!.message).toBe("no database connection was free within 1 s. Retry in a moment");
    } finally {
      await locker.query("commit");
      locker.release();
    }
    // and the requests that waited on the lock all answer
    for (const r of await Promise.all(held))
      if (r instanceof Error) expect((r as TRPCClientError<AppRouter>).data?.code).toMatch(/TOO_MANY_REQUESTS|FORBIDDEN/);
  });

  it("per session: over GATEWAY_RATE_LIMIT_PER_SESSION a minute, 429 with a sentence and Retry-After; other sessions and admins go on", async () => {
    const a = h.activeTenants()[0]!;
    const token = await h.tenantSession(a, { expiresInS: 7200 });
    const me = () => fetch(`${h.gateway.address}/trpc/tenant.me`, { headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < PER_SESSION; i++) expect((await me()).status).toBe(200);
    const over = await me();
    expect(over.status).toBe(429);
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
    // in tRPC's shape: the app shows the sentence
    expect(await over.json()).toMatchObject({
      error: { message: expect.stringMatching(/^too many requests from this session: try again in \d+ s$/) as string, data: { code: "TOO_MANY_REQUESTS" } },
    });
    expect(await client(a).tenant.me.query()).toMatchObject({ tenantId: a });
    const admin = await h.adminSession("ops");
    for (let i = 0; i <= PER_SESSION; i++)
      expect((await fetch(`${h.gateway.address}/trpc/admin.me`, { headers: { authorization: `Bearer ${admin}` } })).status).toBe(200);
  });

  it("per link: the download route is limited too", async () => {
    const url = `${h.gateway.address}/exports/${h.activeTenants()[0]}/exp_01jzzzzzzzzzzzzzzzzzzzzzzz/download?token=1.x`;
    for (let i = 0; i < PER_SESSION; i++) expect((await fetch(url)).status).toBe(404);
    const over = await fetch(url);
    expect(over.status).toBe(429);
    expect(await over.json()).toMatchObject({ message: expect.stringMatching(/this link/) as string });
  });

  it("per IP: over GATEWAY_RATE_LIMIT_PER_IP a minute, fresh sessions from one address are refused too", async () => {
    const a = h.activeTenants()[0]!;
    let over: TRPCClientError<AppRouter> | undefined;
    for (let i = 0; i <= PER_IP && !over; i++) over = await failure(client(a).tenant.me.query());
    expect(over, `a 429 within ${PER_IP + 1} requests`).toBeDefined();
    expect(over!.message).toMatch(/too many requests from this address/);
    expect(over!.data?.code).toBe("TOO_MANY_REQUESTS");
  });
});
