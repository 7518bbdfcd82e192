// GET /api/super-admin/drills (and `drills.report` over tRPC): coverage of the drill window and the
// attested drill records, each signature checked on read: a record edited in the catalog is `tampered`.
import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Secret } from "@hesaab/config";
import { newId } from "@hesaab/contracts";
import { backupRecords, drillRecords } from "@hesaab/db";
import { signDrill, type AttestedFields } from "@hesaab/drills";
import { startHarness, type Harness } from "./harness";

const drKey = randomBytes(32);
let h: Harness;
beforeAll(async () => {
  h = await startHarness("gw_drills", { env: { DR_MASTER_KEYS: `1:${drKey.toString("base64")}` } });
}, 120_000);
afterAll(async () => {
  await h?.stop();
});

async function get(path: string, token?: string) {
  const res = await fetch(`${h.gateway.address}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A completed backup record for `tenantId` (coverage counts tenants with one), and a signed drill of it. */
async function drilled(tenantId: string, outcome: string): Promise<string> {
  const backupId = newId("bkp");
  await h.catalog.db.insert(backupRecords).values({ id: backupId, backupType: "tenant", tenantId, filename: "x", encryptionKeyId: "", status: "completed" });
  const fields: AttestedFields = {
    id: newId("drl"),
    kind: "tenant",
    backupId,
    tenantId,
    outcome,
    providerUsed: "b2",
    startedAt: new Date(Date.now() - 5000),
    finishedAt: new Date(),
    durations: { totalMs: 5000 },
    tables: { "public.invoices": { expectedRows: 2, rows: 2, expectedChecksum: "00000000000000aa", checksum: "00000000000000aa", match: true } },
    error: null,
    restoredByVersion: "1.2.3",
    restoredByCommit: "abc1234",
    keyVersion: 1,
  };
  await h.catalog.db.insert(drillRecords).values({ ...fields, signature: signDrill(new Map([[1, new Secret(drKey)]]), fields) });
  return fields.id;
}

describe("drill reports", { timeout: 60_000 }, () => {
  it("serves coverage and attested records to a super admin; an edited record reads back tampered", async () => {
    const [a, b, c] = h.activeTenants();
    const first = await drilled(a!, "match");
    await drilled(b!, "match");
    // c has a backup but no drill: the oldest undrilled
    await h.catalog.db
      .insert(backupRecords)
      .values({ id: newId("bkp"), backupType: "tenant", tenantId: c!, filename: "x", encryptionKeyId: "", status: "completed" });

    const admin = await h.adminSession("ops");
    const ok = await get("/api/super-admin/drills", admin);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      coverage: { windowDays: 30, tenantsWithBackups: 3, drilledInWindow: 2, oldestUndrilled: { tenantId: c, lastDrilledAt: null } },
      tampered: 0,
    });
    expect((ok.body.drills as { id: string; attestation: string }[]).find((d) => d.id === first)).toMatchObject({
      attestation: "valid",
      restoredByVersion: "1.2.3",
    });

    await h.catalog.db.update(drillRecords).set({ outcome: "match", restoredByCommit: "0000000" }).where(eq(drillRecords.id, first));
    const edited = await get(`/api/super-admin/drills?tenant_id=${a}`, admin);
    expect(edited.body).toMatchObject({ tampered: 1 });
    expect((edited.body.drills as { id: string; attestation: string }[])[0]).toMatchObject({ id: first, attestation: "tampered" });
  });

  it("is for super admins only", async () => {
    expect((await get("/api/super-admin/drills")).status).toBe(401);
    expect((await get("/api/super-admin/drills", await h.adminSession("op", { role: "operator" }))).status).toBe(403);
  });
});
