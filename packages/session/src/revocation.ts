// Revocation by `jti`: a session that must end before its `exp` (a leaked link, a user removed) is
// written to `backup.revoked_sessions`, which the gateway reads on every request that carries a
// session (one primary-key lookup, no cache: a revocation holds from the next request on).
import { eq, lt } from "drizzle-orm";
import { SessionError } from "./errors";
import { revokedSessions, writeAudit, type CatalogDb } from "@hesaab/db";
import { CLOCK_TOLERANCE_SECONDS, DEFAULT_TENANT_SESSION_MAX_HOURS, maxSessionHours, type SessionKind } from "./session";

export interface Revocation {
  jti: string;
  /** Which kind of session it names, or `any` when the revoker did not say. */
  kind: SessionKind | "any";
  revokedAt: Date;
  /** Past this, no token with this jti can be valid anyway: the row may be pruned. */
  expiresAt: Date;
  revokedBy: string;
  reason: string | null;
  /** It was revoked before (this call changed nothing but the audit trail). */
  already: boolean;
}

/** Whether a session's jti was revoked (the gateway's check). */
export async function isSessionRevoked(db: CatalogDb, jti: string): Promise<boolean> {
  const rows = await db.select({ jti: revokedSessions.jti }).from(revokedSessions).where(eq(revokedSessions.jti, jti)).limit(1);
  return rows.length > 0;
}

/**
 * Revokes the session `jti`, audited as `session.revoked` in `revokedBy`'s name. The row lives as
 * long as any token naming the jti could (the kind's maximum lifetime, the longer of both for
 * `any`, plus the clock tolerance); rows past that are pruned here, so the table stays small.
 * Revoking twice keeps the first revocation.
 */
export async function revokeSession(
  db: CatalogDb,
  o: { jti: string; kind?: SessionKind | "any"; revokedBy: string; reason?: string | undefined; tenantMaxHours?: number; now?: Date },
): Promise<Revocation> {
  const jti = o.jti.trim();
  if (jti === "" || jti.length > 200) {
    throw new SessionError({
      code: "session_jti_invalid",
      message: "a session's jti is 1 to 200 characters",
      hint: "Give the jti claim of the session to revoke",
    });
  }
  const kind = o.kind ?? "any";
  const now = o.now ?? new Date();
  const tenantMax = o.tenantMaxHours ?? DEFAULT_TENANT_SESSION_MAX_HOURS;
  const hours = kind === "any" ? Math.max(maxSessionHours("admin"), maxSessionHours("tenant", tenantMax)) : maxSessionHours(kind, tenantMax);
  const expiresAt = new Date(now.getTime() + hours * 3_600_000 + CLOCK_TOLERANCE_SECONDS * 1000);
  const reason = o.reason?.trim() ? o.reason.trim().slice(0, 500) : null;
  await db.delete(revokedSessions).where(lt(revokedSessions.expiresAt, now));
  const inserted = await db
    .insert(revokedSessions)
    .values({ jti, kind, revokedAt: now, expiresAt, revokedBy: o.revokedBy, reason })
    .onConflictDoNothing()
    .returning();
  // Already revoked: the row is read back, unless another revocation pruned it (expired) in between.
  const row = inserted[0] ?? (await db.select().from(revokedSessions).where(eq(revokedSessions.jti, jti)))[0];
  if (!row)
    throw new SessionError({
      code: "session_revocation_raced",
      message: `session ${jti} was revoked and pruned meanwhile`,
      hint: "Revoke it again",
      retryable: true,
    });
  await writeAudit(db, {
    actor: o.revokedBy,
    action: "session.revoked",
    targetType: "session",
    targetId: jti,
    details: { kind, reason, already: inserted.length === 0 },
  });
  return {
    jti: row.jti,
    kind: row.kind as Revocation["kind"],
    revokedAt: row.revokedAt,
    expiresAt: row.expiresAt,
    revokedBy: row.revokedBy,
    reason: row.reason,
    already: inserted.length === 0,
  };
}
