// Revocation in the real catalog: the gateway's check sees it at once, revoking twice keeps the
// first, rows past their expiry are pruned, and every revocation is in the audit trail.
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLog, migrate, openCatalog, revokedSessions, type Catalog } from "@hesaab/db";
import { freshDatabase, type FreshDatabase } from "@hesaab/testkit";
import { isSessionRevoked, revokeSession } from "../src";

let database: FreshDatabase;
let catalog: Catalog;
beforeAll(async () => {
  database = await freshDatabase("session_revocation");
  await migrate({ url: database.url });
  catalog = openCatalog({ url: database.url });
});
afterAll(async () => {
  await catalog?.close();
  await database?.drop();
});

describe("session revocation", () => {
  it("a revoked jti is seen at once, kept as long as a token could name it, audited", async () => {
    const now = new Date("2026-12-01T10:00:00Z");
    expect(await isSessionRevoked(catalog.db, "jti-a")).toBe(false);
    const r = await revokeSession(catalog.db, { jti: "jti-a", kind: "tenant", revokedBy: "cli:ops", reason: "link leaked", tenantMaxHours: 8, now });
    expect(r).toMatchObject({ jti: "jti-a", kind: "tenant", revokedBy: "cli:ops", reason: "link leaked", already: false });
    expect(r.expiresAt.getTime() - now.getTime()).toBe(8 * 3_600_000 + 30_000);
    expect(await isSessionRevoked(catalog.db, "jti-a")).toBe(true);
    expect(await isSessionRevoked(catalog.db, "jti-b")).toBe(false);

    const again = await revokeSession(catalog.db, { jti: "jti-a", revokedBy: "cli:nima", now: new Date(now.getTime() + 60_000) });
    expect(again).toMatchObject({ kind: "tenant", revokedBy: "cli:ops", reason: "link leaked", already: true });

    // without a kind: the longer of both maxima (admin: 24 hours)
    const any = await revokeSession(catalog.db, { jti: "jti-c", revokedBy: "cli:ops", now });
    expect(any.expiresAt.getTime() - now.getTime()).toBe(24 * 3_600_000 + 30_000);

    const trail = await catalog.db.select().from(auditLog).where(eq(auditLog.action, "session.revoked"));
    expect(trail.map((e) => [e.actor, e.targetId, e.details.already])).toEqual([
      ["cli:ops", "jti-a", false],
      ["cli:nima", "jti-a", true],
      ["cli:ops", "jti-c", false],
    ]);
  });

  it("prunes rows past their expiry when revoking; refuses an empty jti", async () => {
    const later = new Date("2026-12-05T00:00:00Z");
    await revokeSession(catalog.db, { jti: "jti-d", kind: "admin", revokedBy: "cli:ops", now: later });
    const left = await catalog.db.select({ jti: revokedSessions.jti }).from(revokedSessions);
    expect(left.map((r) => r.jti)).toEqual(["jti-d"]);
    await expect(revokeSession(catalog.db, { jti: "  ", revokedBy: "cli:ops" })).rejects.toThrow(/1 to 200 characters/);
  });
});
