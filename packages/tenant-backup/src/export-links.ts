// The customer self-backups as the tenant app reaches them: asked for in a user's name, listed with
// a download link each, opened through that link. The gateway serves them (`@hesaab/api`'s
// `tenant.exports.*` and its download route); the secret is its tenant session secret.
//
// Each export's token (stored in the catalog only as a hash) is derived from its id with the secret,
// so only the holder of the secret knows it; a download link does not carry it but a signature over
// the tenant, the export and an expiry minutes away (`<expiry>.<signature>`), so a link copied out of
// a browser's history or a proxy's log is soon worth nothing.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { desc, eq } from "drizzle-orm";
import { customerExports } from "@hesaab/db";
import { TenantBackupError } from "./errors";
import {
  exportDay,
  exportSummary,
  nextExportDayAt,
  openCustomerExport,
  requestCustomerExport,
  type CustomerExport,
  type CustomerExportDeps,
  type OpenedCustomerExport,
} from "./customer-export";

/** How long a download link the tenant app shows stays valid (the list gives fresh ones). */
export const EXPORT_LINK_MINUTES = 15;

/** How many of a tenant's exports the list shows, newest first. */
const LISTED = 30;

/** A customer self-backup as the tenant app shows it. */
export interface CustomerExportView {
  id: string;
  /** The session's own tenant. */
  tenantId: string;
  day: string;
  status: string;
  size: number | null;
  readyAt: string | null;
  expiresAt: string | null;
  downloads: number;
  /** The signed link, while the export can be downloaded. */
  downloadUrl: string | null;
}

/** What the tenant app's export procedures and the download route need. */
export interface CustomerExportLinks {
  /** Today's export for the session's tenant, queued for backup-svc; `export_daily_limit` when it already has one. */
  request(session: { tenantId: string; userId: string }): Promise<CustomerExportView>;
  /** The tenant's exports, newest first, whether today's (in the limit's time zone) was asked for, and when tomorrow begins there (ISO). */
  list(tenantId: string): Promise<{ today: string; askedToday: boolean; resetsAt: string; exports: CustomerExportView[] }>;
  /** The decrypted ZIP behind a download link (its tenant, export and token checked); `delivered()` counts and audits it once it was sent whole. */
  open(link: { tenantId: string; exportId: string; token: string }): Promise<Pick<OpenedCustomerExport, "fileName" | "stream" | "delivered">>;
}

/**
 * The tenant app's exports, their tokens and links signed with `secret` (HMAC-SHA-256). `queue`
 * hands a new export to backup-svc; when it fails, the day's export is given back. Without
 * `canDecrypt` (no tenant master keys) exports can be asked for and listed, not downloaded.
 */
export function customerExportLinks(o: {
  deps: CustomerExportDeps;
  secret: Buffer;
  queue: (e: CustomerExport) => Promise<void>;
  canDecrypt: boolean;
  timeZone: string;
  maxDownloads: number;
}): CustomerExportLinks {
  const hmac = (text: string) => createHmac("sha256", o.secret).update(text).digest("base64url");
  const exportToken = (exportId: string) => hmac(`export-token:${exportId}`);
  const linkSignature = (tenantId: string, exportId: string, expires: number) => hmac(`export-link:${tenantId}:${exportId}:${expires}`);
  const tokenHash = (id: string) => createHash("sha256").update(exportToken(id)).digest("hex");
  const linkFor = (e: CustomerExport): string => {
    const expires = Math.floor(Date.now() / 1000) + EXPORT_LINK_MINUTES * 60;
    return `/exports/${encodeURIComponent(e.tenantId)}/${e.id}/download?token=${expires}.${linkSignature(e.tenantId, e.id, expires)}`;
  };
  const view = (e: CustomerExport): CustomerExportView => {
    // an export made elsewhere (`hesaab export customer`) has a token of its own: no link here
    const open = e.status === "ready" && e.expiresAt !== null && e.expiresAt > new Date() && e.downloadTokenHash === tokenHash(e.id);
    return { ...exportSummary(e), downloads: e.downloadCount, downloadUrl: open ? linkFor(e) : null };
  };
  return {
    async request({ tenantId, userId }) {
      const { export: e } = await requestCustomerExport(o.deps, {
        tenantId,
        requestedBy: `tenant-user:${userId}`.slice(0, 200),
        tokenFor: exportToken,
        timeZone: o.timeZone,
      });
      try {
        await o.queue(e);
      } catch (err) {
        // not queued: the day's export is given back, so the user can ask again
        await o.deps.catalog.db.delete(customerExports).where(eq(customerExports.id, e.id));
        throw err;
      }
      return view(e);
    },
    async list(tenantId) {
      const rows = await o.deps.catalog.db
        .select()
        .from(customerExports)
        .where(eq(customerExports.tenantId, tenantId))
        .orderBy(desc(customerExports.createdAt))
        .limit(LISTED);
      const now = new Date();
      const today = exportDay(now, o.timeZone);
      const resetsAt = nextExportDayAt(now, o.timeZone).toISOString();
      return { today, askedToday: rows.some((r) => r.day === today), resetsAt, exports: rows.map(view) };
    },
    async open({ tenantId, exportId, token }) {
      if (!o.canDecrypt)
        throw new TenantBackupError({
          code: "exports_unavailable",
          message: "this gateway has no tenant master keys (BACKUP_MASTER_KEYS): it cannot serve downloads",
        });
      const [expires = "", signature = "", ...rest] = token.split(".");
      const given = Buffer.from(signature, "base64url");
      const expected = Buffer.from(linkSignature(tenantId, exportId, Number(expires)), "base64url");
      // only the form the gateway writes: base64url decodes padded, cut or re-ordered text to the same
      // bytes, and a number reads the same with leading zeros; one link, one spelling
      const canonical = rest.length === 0 && /^[1-9]\d*$/.test(expires) && given.toString("base64url") === signature;
      if (!canonical || given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new TenantBackupError({
          code: "export_not_found",
          message: `export ${exportId} not found`,
          hint: "Check the link; it is valid for your organisation only",
        });
      }
      if (Number(expires) * 1000 <= Date.now()) {
        throw new TenantBackupError({
          code: "export_link_expired",
          message: "this download link has expired",
          hint: `Links last ${EXPORT_LINK_MINUTES} minutes: open My data again for a fresh one`,
        });
      }
      return openCustomerExport(o.deps, { tenantId, exportId, token: exportToken(exportId), maxDownloads: o.maxDownloads });
    },
  };
}
