// Customer self-backup: a tenant's own copy of its data, once a day, as a ZIP a person can open
// (`writeTenantArchive`), held 24 hours on this host, encrypted at rest with the tenant's key, never
// in the clouds, downloaded through a link that only the requester holds.
//
//   requestCustomerExport   one per tenant per day (the catalog's unique index decides, atomically);
//                           returns the export's id and its download token (stored only as a hash)
//   buildCustomerExport     the ZIP → BKP1 (kind `customer`) → <dir>/<tenant>/<id>.zip.bkp1, its key
//                           sidecar beside it; `ready` for 24 hours
//   openCustomerExport      the token, the tenant and the clock checked → the decrypted ZIP
//   expireCustomerExports   files past their 24 hours removed, records `expired`
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { and, eq, inArray, isNotNull, lte, or, isNull } from "drizzle-orm";
import { errorText, HesaabError, isHesaabError } from "@hesaab/config";
import { newId, noPublish, tenantId as tenantIdSchema } from "@hesaab/contracts";
import { createDecryptStream, createEncryptStream, serializeKeySidecar, type ArtifactIdentity } from "@hesaab/crypto";
import { customerExports } from "@hesaab/db";
import { writeTenantArchive } from "@hesaab/tenant-data";
import { tenantPlan } from "./backup";
import type { TenantBackupDeps } from "./deps";

export type CustomerExport = typeof customerExports.$inferSelect;

export type CustomerExportDeps = Pick<TenantBackupDeps, "platform" | "catalog" | "keyRing" | "discover" | "planTtlMs" | "publish"> & {
  /** Where exports are held for their 24 hours (a local directory; never a cloud). */
  exportDir: string;
};

/** How long an export can be downloaded once it is ready. */
export const CUSTOMER_EXPORT_HOURS = 24;
const HOUR = 3_600_000;

function exportError(o: ConstructorParameters<typeof HesaabError>[0]): HesaabError {
  return new HesaabError(o);
}

const hashToken = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest();

/** The calendar day of `at` in `timeZone` (YYYY-MM-DD). */
function dayIn(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(at);
}

const identity = (e: Pick<CustomerExport, "tenantId" | "id">): ArtifactIdentity => ({ kind: "customer", tenantId: e.tenantId, backupId: e.id });
const filesOf = (deps: CustomerExportDeps, e: Pick<CustomerExport, "tenantId" | "id">) => {
  const file = path.join(deps.exportDir, e.tenantId, `${e.id}.zip.bkp1`);
  return { file, keys: `${file}.keys.json`, partial: `${file}.partial` };
};

/**
 * Asks for today's export of a tenant. One per tenant per calendar day (in `timeZone`, default UTC),
 * decided by the catalog's unique index: of ten requests at once, one wins and nine get
 * `export_daily_limit`. A tenant that does not exist or is not active is refused here.
 * The token is returned once and stored only as its SHA-256: it is the download link's secret.
 */
export async function requestCustomerExport(
  deps: CustomerExportDeps,
  opts: {
    tenantId: string;
    requestedBy: string;
    now?: Date;
    timeZone?: string;
    /** The download token of the new export (default: 32 random bytes). The gateway derives it from the export's id with its secret, so it can give the link again. */
    tokenFor?: (exportId: string) => string;
  },
): Promise<{ export: CustomerExport; token: string }> {
  const now = opts.now ?? new Date();
  if (!tenantIdSchema.safeParse(opts.tenantId).success) throw exportError({ code: "invalid_tenant_id", message: "the tenant id is not a valid tenant id" });
  await checkTenantActive(deps, opts.tenantId);
  const id = newId("exp");
  const token = opts.tokenFor?.(id) ?? randomBytes(32).toString("base64url");
  const day = dayIn(now, opts.timeZone ?? "UTC");
  const rows = await deps.catalog.db
    .insert(customerExports)
    .values({ id, tenantId: opts.tenantId, requestedBy: opts.requestedBy, day, status: "pending", downloadTokenHash: hashToken(token).toString("hex"), createdAt: now })
    .onConflictDoNothing()
    .returning();
  if (rows[0]) return { export: rows[0], token };
  const [taken] = await deps.catalog.db.select().from(customerExports).where(and(eq(customerExports.tenantId, opts.tenantId), eq(customerExports.day, day)));
  throw exportError({
    code: "export_daily_limit",
    message: `tenant ${opts.tenantId} already asked for its export of ${day}${taken ? ` (${taken.id}, ${taken.status})` : ""}`,
    hint: "One export per day: download today's while it lasts (24 hours), or ask again tomorrow",
    context: { tenantId: opts.tenantId, day, exportId: taken?.id },
  });
}

async function checkTenantActive(deps: CustomerExportDeps, tenantId: string): Promise<void> {
  const plan = await tenantPlan(deps);
  const status = plan.root.statusColumn ? `${plan.root.statusColumn}::text` : "NULL::text";
  const { rows } = await deps.platform.query<{ status: string | null }>(`SELECT ${status} AS status FROM ${plan.root.sql} WHERE ${plan.root.keySql}::text = $1`, [tenantId]);
  if (!rows[0]) throw exportError({ code: "tenant_not_found", message: `tenant ${tenantId} not found`, hint: "Check the tenant id" });
  if (rows[0].status === "suspended" || rows[0].status === "deleted") {
    throw exportError({ code: "tenant_not_active", message: `tenant ${tenantId} is ${rows[0].status}`, hint: "Suspended and deleted tenants cannot export their data" });
  }
}

/**
 * Builds a requested export: the archive, encrypted with the tenant's key as it is written, to a
 * partial file renamed into place once complete; the key sidecar beside it. Idempotent: a redelivered
 * request for an export that is ready returns it; one that was running (its worker died) starts over.
 * A failure removes what was written and marks the export `failed`.
 */
export async function buildCustomerExport(
  deps: CustomerExportDeps,
  opts: { exportId: string; /** The tenant the request named: another one's export is not built. */ tenantId?: string; signal?: AbortSignal; now?: () => Date },
): Promise<CustomerExport> {
  const clock = opts.now ?? (() => new Date());
  const db = deps.catalog.db;
  const [found] = await db.select().from(customerExports).where(eq(customerExports.id, opts.exportId));
  if (!found || (opts.tenantId !== undefined && found.tenantId !== opts.tenantId)) throw exportError({ code: "export_not_found", message: `export ${opts.exportId} not found for this tenant` });
  if (found.status === "ready") return found;
  if (found.status !== "pending" && found.status !== "running") {
    throw exportError({ code: "export_not_buildable", message: `export ${found.id} is ${found.status}`, context: { exportId: found.id, status: found.status } });
  }
  await db.update(customerExports).set({ status: "running" }).where(eq(customerExports.id, found.id));
  const files = filesOf(deps, found);
  await mkdir(path.dirname(files.file), { recursive: true });
  const sha = createHash("sha256");
  let size = 0;
  try {
    const sealed = await deps.keyRing.sealNewArtifact(identity(found));
    let encrypt;
    try {
      encrypt = createEncryptStream({ dek: sealed.dek, dekId: sealed.dekId, ...identity(found), contentEncoding: "none" });
    } finally {
      sealed.dek.reveal().fill(0);
    }
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        sha.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    const stored = pipeline(encrypt, count, createWriteStream(files.partial, { mode: 0o600 }));
    stored.catch(() => {});
    await Promise.all([writeTenantArchive({ pool: deps.platform, plan: await tenantPlan(deps), tenantId: found.tenantId, exportId: found.id, output: encrypt, signal: opts.signal }), stored]);
    await writeFile(files.keys, serializeKeySidecar(sealed.sidecar), { mode: 0o600 });
    await rename(files.partial, files.file);
  } catch (error) {
    await rm(files.partial, { force: true });
    await rm(files.keys, { force: true });
    // A passing fault (the database restarting) leaves the export pending for the retry the bus makes;
    // anything else fails it (and it is swept after its 24 hours like a ready one).
    const retryable = isHesaabError(error) && error.retryable;
    await db
      .update(customerExports)
      .set(retryable ? { status: "pending", errorMessage: errorText(error) } : { status: "failed", errorMessage: errorText(error), expiresAt: new Date(clock().getTime() + CUSTOMER_EXPORT_HOURS * HOUR) })
      .where(eq(customerExports.id, found.id));
    throw error;
  }
  const readyAt = clock();
  const expiresAt = new Date(readyAt.getTime() + CUSTOMER_EXPORT_HOURS * HOUR);
  const [ready] = await db
    .update(customerExports)
    .set({ status: "ready", localPath: files.file, fileSize: size, checksum: sha.digest("hex"), readyAt, expiresAt, errorMessage: null })
    .where(eq(customerExports.id, found.id))
    .returning();
  await (deps.publish ?? noPublish)("export.customer.ready.v1", { exportId: found.id, tenantId: found.tenantId, size, expiresAt: expiresAt.toISOString() }).catch(() => {});
  return ready!;
}

/**
 * The decrypted ZIP of a ready export, for its tenant and the holder of its token, while it lasts.
 * Another tenant's export and a wrong token are refused alike (`export_not_found`: nothing tells
 * whether the export exists). Counts the download.
 */
export async function openCustomerExport(
  deps: CustomerExportDeps,
  opts: { exportId: string; token: string; tenantId: string; now?: Date },
): Promise<{ export: CustomerExport; fileName: string; stream: Readable }> {
  const now = opts.now ?? new Date();
  const notFound = (): HesaabError => exportError({ code: "export_not_found", message: `export ${opts.exportId} not found`, hint: "Check the link; it is valid for 24 hours and for your organisation only" });
  const [found] = await deps.catalog.db.select().from(customerExports).where(eq(customerExports.id, opts.exportId));
  const given = hashToken(opts.token);
  const stored = found?.downloadTokenHash ? Buffer.from(found.downloadTokenHash, "hex") : undefined;
  if (!found || found.tenantId !== opts.tenantId || !stored || stored.length !== given.length || !timingSafeEqual(stored, given)) throw notFound();
  if (found.status === "pending" || found.status === "running") {
    throw exportError({ code: "export_not_ready", message: `export ${found.id} is being prepared`, retryable: true, hint: "Try again in a minute" });
  }
  if (found.status === "failed") throw exportError({ code: "export_failed", message: `export ${found.id} failed: ${found.errorMessage ?? "unknown error"}`, hint: "Ask again tomorrow, or contact support" });
  if (found.status !== "ready" || !found.expiresAt || found.expiresAt <= now || !found.localPath) {
    throw exportError({ code: "export_expired", message: `export ${found.id} expired`, hint: "Exports are kept 24 hours; ask for a new one (one per day)" });
  }
  const files = filesOf(deps, found);
  const { dek, dekId } = await deps.keyRing.openArtifact({ sidecar: await readFile(files.keys, "utf8"), expect: identity(found) });
  let decrypt;
  try {
    decrypt = createDecryptStream({ dek, dekId, expect: identity(found) });
  } finally {
    dek.reveal().fill(0);
  }
  const source = createReadStream(files.file);
  source.on("error", (err) => decrypt.destroy(err));
  source.pipe(decrypt);
  await deps.catalog.db
    .update(customerExports)
    .set({ downloadCount: found.downloadCount + 1, downloadedAt: now })
    .where(eq(customerExports.id, found.id));
  return { export: found, fileName: `hesaab-export-${found.day}-${found.id}.zip`, stream: decrypt };
}

/**
 * Removes exports past their 24 hours (and failed or abandoned ones past theirs): files first, then
 * the record becomes `expired`, then the event. Returns the ids expired.
 */
export async function expireCustomerExports(deps: CustomerExportDeps, opts: { now?: Date } = {}): Promise<string[]> {
  const now = opts.now ?? new Date();
  const db = deps.catalog.db;
  const due = await db
    .select()
    .from(customerExports)
    .where(
      and(
        inArray(customerExports.status, ["pending", "running", "ready", "failed"]),
        or(and(isNotNull(customerExports.expiresAt), lte(customerExports.expiresAt, now)), and(isNull(customerExports.expiresAt), lte(customerExports.createdAt, new Date(now.getTime() - CUSTOMER_EXPORT_HOURS * HOUR)))),
      ),
    );
  for (const e of due) {
    const files = filesOf(deps, e);
    await Promise.all([rm(files.file, { force: true }), rm(files.keys, { force: true }), rm(files.partial, { force: true })]);
    await db.update(customerExports).set({ status: "expired", localPath: null }).where(eq(customerExports.id, e.id));
    await (deps.publish ?? noPublish)("export.customer.expired.v1", { exportId: e.id, tenantId: e.tenantId }).catch(() => {});
  }
  return due.map((e) => e.id);
}
