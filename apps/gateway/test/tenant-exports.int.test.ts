// The tenant app's self-backup, end to end through the gateway: sessions signed with
// TENANT_SESSION_SECRET, the request queued on the bus, the export built as backup-svc builds it,
// the signed link served decrypted; another tenant, a forged session or a changed link get nothing.
import { createHmac } from "node:crypto";
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";
import { buildCustomerExport, requestCustomerExport } from "@hesaab/tenant-backup";
import { waitFor } from "@hesaab/testkit";
import { loadEnv } from "../src/env";
import { startGateway } from "../src/gateway";
import type { AppRouter } from "@hesaab/api";
import { startHarness, type Harness, type SessionOptions } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("gw_exports");
}, 120_000);
afterAll(async () => {
  await h?.stop();
});

const session = (tenantId: string, o?: SessionOptions) => h.tenantSession(tenantId, o);

function client(token?: string | Promise<string>) {
  const pending = Promise.resolve(token);
  return createTRPCClient<AppRouter>({
    links: [httpBatchLink({ url: `${h.gateway.address}/trpc`, headers: async () => ((await pending) ? { authorization: `Bearer ${await pending}` } : {}) })],
  });
}

const active = () => h.activeTenants();

describe("tenant app: customer self-backup through the gateway", () => {
  it("refuses without a valid session: none, forged, expired", async () => {
    const a = active()[0]!;
    for (const token of [undefined, await session(a, { secret: "x".repeat(32) }), await session(a, { expiresInS: -120 }), "v1.abc.def"]) {
      const err = await client(token)
        .tenant.exports.list.query()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TRPCClientError);
      expect((err as TRPCClientError<AppRouter>).data?.code).toBe("UNAUTHORIZED");
    }
  });

  it("asks, is built by backup-svc, downloads through the signed link; once a day", async () => {
    const a = active()[0]!;
    const me = client(session(a));
    expect(await me.tenant.me.query()).toEqual({ tenantId: a, userId: "user-1", role: "owner", canExport: true, exportRefusal: null });
    const requested = await me.tenant.exports.request.mutate();
    expect(requested).toMatchObject({ status: "pending", downloadUrl: null });
    await waitFor(() => h.built.includes(requested.id), "the export built");
    const listed = await me.tenant.exports.list.query();
    expect(listed.askedToday).toBe(true);
    const [ready] = listed.exports;
    expect(ready).toMatchObject({ id: requested.id, status: "ready", downloads: 0 });
    const res = await fetch(`${h.gateway.address}${ready!.downloadUrl!}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toMatch(/attachment; filename="hesaab-export-.+\.zip"/);
    const zip = Buffer.from(await res.arrayBuffer());
    expect(zip.subarray(0, 4).toString("latin1")).toBe("PK\u0003\u0004");
    // counted once the gateway handed over the whole ZIP (after the response finished)
    await waitFor(async () => (await me.tenant.exports.list.query()).exports[0]!.downloads === 1, "the download counted");

    const again = await me.tenant.exports.request.mutate().catch((e: unknown) => e);
    expect((again as TRPCClientError<AppRouter>).data?.code).toBe("TOO_MANY_REQUESTS");
    expect((again as TRPCClientError<AppRouter>).data?.appCode).toBe("export_daily_limit");
    expect((again as Error).message).toMatch(/One export per day/);
  });

  it("tenant B sees none of A's exports and cannot open A's link, changed in any way", async () => {
    const [a, b] = active();
    const [mine] = (await client(session(a!)).tenant.exports.list.query()).exports;
    const link = new URL(`${h.gateway.address}${mine!.downloadUrl!}`);
    expect((await client(session(b!)).tenant.exports.list.query()).exports).toEqual([]);
    const token = link.searchParams.get("token")!;
    for (const url of [
      `${h.gateway.address}/exports/${b}/${mine!.id}/download?token=${token}`, // B's tenant in the path
      `${h.gateway.address}/exports/${a}/${mine!.id}/download?token=${token.slice(0, -10)}${token.at(-10) === "A" ? "B" : "A"}${token.slice(-9)}`, // one character of the signature changed
      `${h.gateway.address}/exports/${a}/${mine!.id}/download`,
      `${h.gateway.address}/exports/${a}/exp_01jzzzzzzzzzzzzzzzzzzzzzzz/download?token=${token}`,
    ]) {
      const res = await fetch(url);
      expect(res.status, url).toBe(404);
      expect(await res.json()).toMatchObject({ code: "export_not_found" });
    }
  });

  it("what goes wrong on our side reaches the tenant as a sentence, without paths; an export made elsewhere shows no link", async () => {
    const b = active()[1]!;
    // made with the library's own random token (as `hesaab export customer` does): not a link the gateway can give
    const deps = h.deps;
    const { export: e, token } = await requestCustomerExport(deps, { tenantId: b, requestedBy: "support" });
    const ready = await buildCustomerExport(deps, { exportId: e.id });
    const listed = await client(session(b)).tenant.exports.list.query();
    expect(listed.exports.find((x) => x.id === e.id)).toMatchObject({ status: "ready", downloadUrl: null });
    // nor does its own token open it through the gateway (links are the gateway's signed ones)
    expect((await fetch(`${h.gateway.address}/exports/${b}/${e.id}/download?token=${token}`)).status).toBe(404);

    // A's export, its key sidecar gone: the download is refused with what to do, the answer names no file, the log does
    const a = active()[0]!;
    const [mine] = (await client(session(a)).tenant.exports.list.query()).exports;
    await rm(
      `${(await h.catalog.pool.query<{ local_path: string }>("select local_path from backup.customer_exports where id = $1", [mine!.id])).rows[0]!.local_path}.keys.json`,
    );
    const res = await fetch(`${h.gateway.address}${mine!.downloadUrl!}`);
    expect(res.status).toBe(410);
    const body = (await res.json()) as { code: string; message: string };
    expect(body).toEqual({
      code: "export_file_missing",
      message: `export ${mine!.id} is no longer on this server`,
      hint: "Ask for a new export tomorrow, or contact support",
      retryable: false,
    });
    expect(JSON.stringify(body)).not.toContain(h.dataDir);
    expect(h.logs.find((l) => l.msg === "export download refused" && l.code === "export_file_missing")).toBeDefined();
    void ready;
  });

  it("a download link lasts minutes: an expired one is refused with what to do", async () => {
    const a = active()[0]!;
    const [mine] = (await client(session(a)).tenant.exports.list.query()).exports;
    const link = new URL(`${h.gateway.address}${mine!.downloadUrl!}`);
    const [expires] = link.searchParams.get("token")!.split(".");
    expect(Number(expires) * 1000 - Date.now()).toBeLessThanOrEqual(15 * 60_000);
    const past = Math.floor(Date.now() / 1000) - 1;
    const signature = createHmac("sha256", Buffer.from(h.secret, "utf8")).update(`export-link:${a}:${mine!.id}:${past}`).digest("base64url");
    const res = await fetch(`${h.gateway.address}/exports/${a}/${mine!.id}/download?token=${past}.${signature}`);
    expect(res.status).toBe(410);
    expect(await res.json()).toMatchObject({ code: "export_link_expired", hint: expect.stringMatching(/open My data again/) as string });
    // the same expiry with a signature for another time is no link at all
    expect((await fetch(`${h.gateway.address}/exports/${a}/${mine!.id}/download?token=${past + 3600}.${signature}`)).status).toBe(404);
  });

  it("a suspended tenant is told it cannot export", async () => {
    const suspended = h.platform.tenants.find((t) => t.status === "suspended")!.id;
    const err = await client(session(suspended))
      .tenant.exports.request.mutate()
      .catch((e: unknown) => e);
    expect((err as TRPCClientError<AppRouter>).data?.code).toBe("FORBIDDEN");
    expect((err as TRPCClientError<AppRouter>).data?.appCode).toBe("tenant_not_active");
  });

  it("a role that may not export is told so, and which roles may (CUSTOMER_EXPORT_ROLES); nothing is queued", async () => {
    const c = active()[2]!;
    const accountant = client(session(c, { role: "accountant", userId: "acc-1" }));
    const me = await accountant.tenant.me.query();
    expect(me).toMatchObject({ role: "accountant", canExport: false });
    expect(me.exportRefusal).toBe(
      "only owner or admin can ask for a copy of your organisation's data (your role is accountant). Ask an owner of your organisation to prepare it",
    );
    const err = await accountant.tenant.exports.request.mutate().catch((e: unknown) => e);
    expect((err as TRPCClientError<AppRouter>).data?.code).toBe("FORBIDDEN");
    expect((err as TRPCClientError<AppRouter>).data?.appCode).toBe("export_role_required");
    expect((err as Error).message).toBe(me.exportRefusal);
    expect((await accountant.tenant.exports.list.query()).askedToday).toBe(false);

    // another policy: accountants may, owners may not
    const gateway = await startGateway(loadEnv({ ...h.env, CUSTOMER_EXPORT_ROLES: "accountant, bookkeeper" }));
    try {
      const at = (token: Promise<string>) =>
        createTRPCClient<AppRouter>({
          links: [httpBatchLink({ url: `${gateway.address}/trpc`, headers: async () => ({ authorization: `Bearer ${await token}` }) })],
        });
      expect(await at(session(c, { role: "accountant" })).tenant.me.query()).toMatchObject({ canExport: true, exportRefusal: null });
      expect(await at(session(c, { role: "owner" })).tenant.me.query()).toMatchObject({
        canExport: false,
        exportRefusal:
          "only accountant or bookkeeper can ask for a copy of your organisation's data (your role is owner). Ask a user whose role is accountant or bookkeeper to prepare it",
      });
    } finally {
      await gateway.stop();
    }
  });
});
