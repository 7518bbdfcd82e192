// The REST door on a real gateway: the design document's paths served from the tRPC procedures, with
// the same sessions (Bearer JWT), rate limits and errors; the error shape the same through both doors;
// /api/openapi.json valid and /api/docs served from this machine.
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";
import { waitFor } from "@hesaab/testkit";
import { apiErrorSchema, type ApiErrorBody, type AppRouter } from "@hesaab/api";
import { startHarness, type Harness } from "./harness";

const PER_SESSION = 6;

let h: Harness;
beforeAll(async () => {
  h = await startHarness("gw_rest", { env: { GATEWAY_RATE_LIMIT_PER_SESSION: String(PER_SESSION), GATEWAY_RATE_LIMIT_PER_IP: "1000" } });
}, 120_000);
afterAll(async () => {
  await h?.stop();
});

/** A REST call as HesaabPlus's backend makes it: JSON, the session as a Bearer token. */
async function rest(path: string, o: { token?: string; method?: "GET" | "POST"; body?: unknown } = {}) {
  const res = await fetch(`${h.gateway.address}${path}`, {
    method: o.method ?? "GET",
    headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(o.body === undefined ? {} : { "content-type": "application/json" }) },
    ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as object };
}

/** The one error shape, exactly: a code of the closed list, a sentence, a hint or null, retryable. */
function errorShape(body: unknown): ApiErrorBody {
  expect(Object.keys(body as object).sort()).toEqual(["code", "hint", "message", "retryable"]);
  return apiErrorSchema.parse(body);
}

function trpc(token?: string) {
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${h.gateway.address}/trpc`, headers: () => (token ? { authorization: `Bearer ${token}` } : {}) })],
  });
}

const trpcFailure = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TRPCClientError);
  return err as TRPCClientError<AppRouter>;
};

const TENANT_PATHS = [
  ["POST", "/api/tenant/backup/create"],
  ["GET", "/api/tenant/backup/status"],
  ["GET", "/api/tenant/backup/download/exp_01jzzzzzzzzzzzzzzzzzzzzzzz"],
  ["GET", "/api/tenant/backup/history"],
] as const;
const ADMIN_PATHS = [["GET", "/api/super-admin/storage/status"]] as const;

describe("the REST paths", () => {
  it("serve the tenant's self-backup with a tenant session: create, status, history, a signed link that downloads", async () => {
    const a = h.activeTenants()[0]!;
    const token = await h.tenantSession(a);
    const before = await rest("/api/tenant/backup/status", { token });
    expect(before).toMatchObject({ status: 200, body: { dailyLimit: 1, askedToday: false, canRequest: true, refusal: null, latest: null } });
    // when the limit frees up: the next midnight of the limit's zone (UTC here), after today
    const { today, resetsAt } = before.body as { today: string; resetsAt: string };
    expect(resetsAt).toBe(new Date(Date.parse(`${today}T00:00:00Z`) + 86_400_000).toISOString());

    // `curl -X POST` with no body is a call without input
    const created = await rest("/api/tenant/backup/create", { token, method: "POST" });
    expect(created).toMatchObject({ status: 200, body: { tenantId: a, status: "pending", downloadUrl: null } });
    const id = (created.body as { id: string }).id;
    await waitFor(() => h.built.includes(id), "the export built");

    const status = await rest("/api/tenant/backup/status", { token });
    expect(status.body).toMatchObject({
      askedToday: true,
      canRequest: false,
      refusal: expect.stringMatching(/one a day/) as string,
      latest: { id, status: "ready" },
    });
    const history = await rest("/api/tenant/backup/history", { token });
    expect(history).toMatchObject({ status: 200, body: { askedToday: true, exports: [{ id, status: "ready", downloads: 0 }] } });

    const link = await rest(`/api/tenant/backup/download/${id}`, { token });
    expect(link).toMatchObject({ status: 200, body: { id, downloadUrl: expect.stringMatching(/^\/exports\//) as string } });
    const zip = await fetch(`${h.gateway.address}${(link.body as { downloadUrl: string }).downloadUrl}`);
    expect(zip.status).toBe(200);
    expect(
      Buffer.from(await zip.arrayBuffer())
        .subarray(0, 4)
        .toString("latin1"),
    ).toBe("PK\u0003\u0004");

    // another tenant's session does not find A's export
    const other = await rest(`/api/tenant/backup/download/${id}`, { token: await h.tenantSession(h.activeTenants()[1]!) });
    expect(other.status).toBe(404);
    expect(errorShape(other.body)).toMatchObject({ code: "export_unknown", retryable: false });
  });

  it("serve the storage status with a super admin's session", async () => {
    const res = await rest("/api/super-admin/storage/status", { token: await h.adminSession("ops") });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      currency: expect.any(String) as string,
      providers: expect.any(Array) as unknown[],
      monthlyTotal: expect.any(Number) as number,
    });
  });

  it("refuse without a session (401) and with the wrong kind of session (401, 403), in the error shape", async () => {
    const a = h.activeTenants()[0]!;
    const tenant = await h.tenantSession(a);
    const admin = await h.adminSession("ops");
    const operator = await h.adminSession("ops-2", { role: "operator" });
    for (const [method, path] of [...TENANT_PATHS, ...ADMIN_PATHS]) {
      const none = await rest(path, { method });
      expect(none.status, `${method} ${path} without a session`).toBe(401);
      expect(errorShape(none.body)).toMatchObject({ code: "unauthorized", hint: expect.stringMatching(/Bearer/) as string, retryable: false });
    }
    // an admin session is not a tenant's (its aud), and a tenant session not an admin's
    for (const [method, path] of TENANT_PATHS) {
      const wrong = await rest(path, { method, token: admin });
      expect(wrong.status, `${method} ${path} with an admin session`).toBe(401);
      expect(errorShape(wrong.body).code).toBe("unauthorized");
    }
    for (const [method, path] of ADMIN_PATHS) {
      const wrong = await rest(path, { method, token: tenant });
      expect(wrong.status, `${method} ${path} with a tenant session`).toBe(401);
      expect(errorShape(wrong.body).code).toBe("unauthorized");
      const role = await rest(path, { method, token: operator });
      expect(role.status, `${method} ${path} as an operator`).toBe(403);
      expect(errorShape(role.body)).toMatchObject({ code: "forbidden", message: expect.stringMatching(/super admins/) as string });
    }
  });

  it("answer the same failure with the same error shape as tRPC", async () => {
    const a = h.activeTenants()[2]!;
    // no session
    const viaRest = await rest("/api/tenant/backup/history");
    expect((await trpcFailure(trpc().tenant.exports.list.query())).data?.error).toEqual(viaRest.body);
    // a refusal of the API's own: the role may not ask
    const viewer = await h.tenantSession(a, { role: "viewer" });
    const refused = await rest("/api/tenant/backup/create", { token: viewer, method: "POST" });
    expect(refused.status).toBe(403);
    const viaTrpc = await trpcFailure(trpc(viewer).tenant.exports.request.mutate());
    expect(viaTrpc.data?.error).toEqual(refused.body);
    expect(viaTrpc.data?.appCode).toBe("export_role_required");
    expect(errorShape(refused.body)).toMatchObject({ code: "export_role_required", hint: expect.any(String) as string, retryable: false });
    // a package's refusal: today's export already asked for (through the other door)
    const owner = await h.tenantSession(a);
    await trpc(owner).tenant.exports.request.mutate();
    const again = await rest("/api/tenant/backup/create", { token: owner, method: "POST" });
    expect(again.status).toBe(429);
    expect(errorShape(again.body)).toMatchObject({ code: "export_daily_limit", retryable: false });
    expect((await trpcFailure(trpc(owner).tenant.exports.request.mutate())).data?.error).toEqual(again.body);
    // an input that is not valid, and a path nothing serves
    const long = await rest(`/api/tenant/backup/download/${"x".repeat(300)}`, { token: owner });
    expect(long.status).toBe(400);
    expect(errorShape(long.body)).toMatchObject({ code: "invalid_input", message: expect.stringMatching(/backup_id/) as string });
    expect((await trpcFailure(trpc(owner).tenant.exports.download.query({ backup_id: "x".repeat(300) }))).data?.error).toEqual(long.body);
    const missing = await rest("/api/tenant/backup/nothing", { token: owner });
    expect(missing.status).toBe(404);
    expect(errorShape(missing.body)).toMatchObject({ code: "not_found", message: "nothing is served at GET /api/tenant/backup/nothing" });
  });

  it("share the tenant procedures' rate limit with tRPC: one count per session, 429 with Retry-After in the error shape", async () => {
    const token = await h.tenantSession(h.activeTenants()[0]!);
    for (let i = 0; i < PER_SESSION / 2; i++) await trpc(token).tenant.me.query();
    for (let i = 0; i < PER_SESSION / 2; i++) expect((await rest("/api/tenant/backup/history", { token })).status).toBe(200);
    const over = await rest("/api/tenant/backup/history", { token });
    expect(over.status).toBe(429);
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(errorShape(over.body)).toMatchObject({ code: "rate_limited", retryable: true, message: expect.stringMatching(/this session/) as string });
    expect((await trpcFailure(trpc(token).tenant.me.query())).data?.error).toMatchObject({ code: "rate_limited", retryable: true });
  });
});

describe("the API's document and reference page", () => {
  it("/api/openapi.json is a valid OpenAPI document of the REST paths, with the bearer scheme", async () => {
    const res = await fetch(`${h.gateway.address}/api/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { servers: { url: string }[]; paths: Record<string, unknown> };
    const validator = new Validator();
    expect(await validator.validate(doc)).toMatchObject({ valid: true });
    expect(doc.servers).toEqual([{ url: h.gateway.address }]);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([...TENANT_PATHS, ...ADMIN_PATHS].map(([, p]) => p.replace(/exp_\w+$/, "{backup_id}"))));
  });

  it("/api/docs renders from this gateway's own assets, allowed by the page's CSP", async () => {
    const page = await fetch(`${h.gateway.address}/api/docs/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toMatch(/script-src 'self'/);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(3);
    for (const asset of assets) {
      expect(asset, "served from the gateway, not a CDN").toMatch(/^\/api\/docs\//);
      const res = await fetch(`${h.gateway.address}${asset}`);
      expect(res.status, asset).toBe(200);
      expect(res.headers.get("content-type"), asset).toMatch(asset.endsWith(".css") ? /^text\/css/ : asset.endsWith(".png") ? /^image\/png/ : /javascript/);
      expect((await res.arrayBuffer()).byteLength, asset).toBeGreaterThan(0);
    }
    expect((await fetch(`${h.gateway.address}/api/docs`, { redirect: "manual" })).headers.get("location")).toBe("/api/docs/");
  });
});
