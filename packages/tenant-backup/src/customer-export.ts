// Customer self-backup: a tenant's own copy of its data, once a day, as a ZIP a person can open
// (`writeTenantArchive`), held 24 hours on this host, encrypted at rest with the tenant's key, never
// in the clouds, downloaded through a link given to the tenant's signed-in users.
//
//   requestCustomerExport   one per tenant per day (the catalog's unique index decides, atomically);
//                           returns the export's id and its download token (stored only as a hash)
//   buildCustomerExport     the ZIP → BKP1 (kind `customer`) → <dir>/<tenant>/<id>.zip.bkp1, its key
//                           sidecar beside it; `ready` for 24 hours
//   openCustomerExport      the token, the tenant, the clock and the download count checked → the
//                           decrypted ZIP; counted and audited once it was delivered whole
//   expireCustomerExports   files past their 24 hours removed, records `expired`
//
// Building and expiring an export hold its advisory lock (`hashtext(EXPORT_LOCK || id)`), so two
// workers never build one export at once, and the sweep never removes one that is being built.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { and, eq, inArray, isNotNull, isNull, lte, or, sql } from "drizzle-orm";
import { describeError, errorText, HesaabError, isHesaabError } from "@hesaab/config";
import { newId, noPublish, tenantId as tenantIdSchema } from "@hesaab/contracts";
import { createDecryptStream, createEncryptStream, serializeKeySidecar, type ArtifactIdentity } from "@hesaab/crypto";
import { customerExports, writeAudit } from "@hesaab/db";
import { checkTenant, writeTenantArchive, type ColumnExclusions } from "@hesaab/tenant-data";
import { tenantPlan } from "./backup";
import { type TenantBackupDeps, readPool } from "./tenant-backup-deps";
import { TenantBackupError } from "./errors";

export type CustomerExport = typeof customerExports.$inferSelect;

export type CustomerExportDeps = Pick<TenantBackupDeps, "platform" | "platformRead" | "catalog" | "keyRing" | "discover" | "planTtlMs" | "publish"> & {
  /**
   * Where exports are held for their 24 hours (a local directory; never a cloud). Every backup-svc
   * replica and the gateway must see the same one (one host, or a shared volume).
   */
  exportDir: string;
  /** Columns no export carries (default: the credential patterns; backup-svc: CUSTOMER_EXPORT_EXCLUDE_COLUMNS). */
  excludeColumns?: ColumnExclusions;
};

/** How long an export can be downloaded once it is ready. */
export const CUSTOMER_EXPORT_HOURS = 24;
const HOURS_MS = CUSTOMER_EXPORT_HOURS * 3_600_000;
const EXPORT_LOCK = "hesaab.customer-export:";

const hashToken = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest();

/** The calendar day of `at` in `timeZone` (YYYY-MM-DD): the day an export counts against. */
export function exportDay(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(at);
}

/**
 * When the day after `at`'s begins in `timeZone`: the moment the daily limit lets a tenant ask again.
 * Found by bisection over the next 25 hours (a day with a daylight-saving change lasts 23 to 25) to the
 * minute, since zones differ from UTC by whole minutes; Intl alone knows the zone's rules.
 */
export function nextExportDayAt(at: Date, timeZone: string): Date {
  const today = exportDay(at, timeZone);
  const minute = 60_000;
  let before = Math.floor(at.getTime() / minute); // still today
  let after = before + 25 * 60; // surely another day
  while (after - before > 1) {
    const mid = Math.floor((before + after) / 2);
    if (exportDay(new Date(mid * minute), timeZone) === today) before = mid;
    else after = mid;
  }
  return new Date(after * minute);
}

/** What every view of an export shows (the CLI adds where it is, the tenant app its link and downloads). */
export function exportSummary(e: CustomerExport) {
  return {
    id: e.id,
    tenantId: e.tenantId,
    day: e.day,
    status: e.status,
    size: e.fileSize,
    readyAt: e.readyAt?.toISOString() ?? null,
    expiresAt: e.expiresAt?.toISOString() ?? null,
  };
}

const identity = (e: Pick<CustomerExport, "tenantId" | "id">): ArtifactIdentity => ({ kind: "customer", tenantId: e.tenantId, backupId: e.id });

/** A tenant's directory under `exportDir` (an id such as `..` that would lead elsewhere is refused). */
function tenantDir(deps: CustomerExportDeps, tenantId: string): string {
  const root = path.resolve(deps.exportDir);
  const dir = path.resolve(root, tenantId);
  if (path.dirname(dir) !== root) throw new TenantBackupError({ code: "invalid_tenant_id", message: "the tenant id cannot name a directory of its own" });
  return dir;
}

/** The export's files, in its tenant's directory. */
function filesOf(deps: CustomerExportDeps, e: Pick<CustomerExport, "tenantId" | "id">) {
  const dir = tenantDir(deps, e.tenantId);
  const file = path.join(dir, `${e.id}.zip.bkp1`);
  return { dir, file, keys: `${file}.keys.json` };
}

/** Runs `fn` holding the export's advisory lock; `{ held: false }` when another worker holds it. */
async function withExportLock<T>(deps: CustomerExportDeps, exportId: string, fn: () => Promise<T>): Promise<{ held: false } | { held: true; value: T }> {
  const lock = await deps.catalog.pool.connect();
  let broken: Error | undefined;
  try {
    const { rows } = await lock.query<{ ok: boolean }>("select pg_try_advisory_lock(hashtext($1 || $2)) as ok", [EXPORT_LOCK, exportId]);
    if (!rows[0]?.ok) return { held: false };
    try {
      return { held: true, value: await fn() };
    } finally {
      await lock.query("select pg_advisory_unlock(hashtext($1 || $2))", [EXPORT_LOCK, exportId]).catch((err: unknown) => {
        broken = err instanceof Error ? err : new Error(String(err)); // a lock that was not released goes with its connection
      });
    }
  } finally {
    lock.release(broken);
  }
}

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
  if (!tenantIdSchema.safeParse(opts.tenantId).success)
    throw new TenantBackupError({ code: "invalid_tenant_id", message: "the tenant id is not a valid tenant id" });
  tenantDir(deps, opts.tenantId);
  // the plan first: its discovery takes a connection of the same pool, and holding one while
  // waiting for another wedges the pool once as many requests as it has connections come at once
  const plan = await tenantPlan(deps);
  const client = await readPool(deps).connect();
  try {
    await checkTenant({ client, plan, tenantId: opts.tenantId, allowInactive: false });
  } finally {
    client.release();
  }
  const id = newId("exp");
  const token = opts.tokenFor?.(id) ?? randomBytes(32).toString("base64url");
  const day = exportDay(now, opts.timeZone ?? "UTC");
  const rows = await deps.catalog.db
    .insert(customerExports)
    .values({
      id,
      tenantId: opts.tenantId,
      requestedBy: opts.requestedBy,
      day,
      status: "pending",
      downloadTokenHash: hashToken(token).toString("hex"),
      createdAt: now,
    })
    .onConflictDoNothing()
    .returning();
  if (rows[0]) {
    await writeAudit(deps.catalog.db, {
      actor: opts.requestedBy,
      action: "customer_export.request",
      targetType: "customer_export",
      targetId: id,
      tenantId: opts.tenantId,
      details: { day },
    });
    return { export: rows[0], token };
  }
  const [taken] = await deps.catalog.db
    .select()
    .from(customerExports)
    .where(and(eq(customerExports.tenantId, opts.tenantId), eq(customerExports.day, day)));
  throw new TenantBackupError({
    code: "export_daily_limit",
    message: `tenant ${opts.tenantId} already asked for its export of ${day}${taken ? ` (${taken.id}, ${taken.status})` : ""}`,
    hint: "One export per day: download today's while it lasts (24 hours), or ask again tomorrow",
    context: { tenantId: opts.tenantId, day, exportId: taken?.id },
  });
}

/**
 * Builds a requested export: the archive, encrypted with the tenant's key as it is written, to files
 * of this attempt's own renamed into place once complete (key sidecar first). Holds the export's lock:
 * another worker building it gets `export_in_progress` (retryable). Idempotent: a ready export is
 * returned as it is; one left `running` by a worker that is gone is built again. A passing fault
 * (the database restarting, the worker stopping) leaves it `pending` for the bus's retry; anything
 * else fails it. What an attempt wrote is removed when it fails.
 */
export async function buildCustomerExport(
  deps: CustomerExportDeps,
  opts: {
    exportId: string;
    /** The tenant the request named: another one's export is not built. */ tenantId?: string;
    signal?: AbortSignal | undefined;
    now?: () => Date;
  },
): Promise<CustomerExport> {
  const outcome = await withExportLock(deps, opts.exportId, () => buildLocked(deps, opts));
  if (!outcome.held) {
    throw new TenantBackupError({
      code: "export_in_progress",
      retryable: true,
      message: `export ${opts.exportId} is being built by another worker`,
      hint: "It is retried once that one ends",
    });
  }
  return outcome.value;
}

async function buildLocked(deps: CustomerExportDeps, opts: Parameters<typeof buildCustomerExport>[1]): Promise<CustomerExport> {
  const clock = opts.now ?? (() => new Date());
  const db = deps.catalog.db;
  const [found] = await db.select().from(customerExports).where(eq(customerExports.id, opts.exportId));
  if (!found || (opts.tenantId !== undefined && found.tenantId !== opts.tenantId)) {
    throw new TenantBackupError({ code: "export_not_found", message: `export ${opts.exportId} not found for this tenant` });
  }
  if (found.status === "ready") return found;
  if (found.status !== "pending" && found.status !== "running") {
    throw new TenantBackupError({
      code: "export_not_buildable",
      message: `export ${found.id} is ${found.status}`,
      context: { exportId: found.id, status: found.status },
    });
  }
  await db.update(customerExports).set({ status: "running" }).where(eq(customerExports.id, found.id));
  const files = filesOf(deps, found);
  const attempt = randomBytes(4).toString("hex");
  const partial = { data: `${files.file}.${attempt}.partial`, keys: `${files.keys}.${attempt}.partial` };
  await mkdir(files.dir, { recursive: true, mode: 0o700 });
  const sha = createHash("sha256");
  let size = 0;
  let encrypt: ReturnType<typeof createEncryptStream> | undefined;
  try {
    const sealed = await deps.keyRing.sealNewArtifact(identity(found));
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
    const stored = pipeline(encrypt, count, createWriteStream(partial.data, { mode: 0o600 }));
    stored.catch(() => {}); // awaited below, beside the archive
    const plan = await tenantPlan(deps);
    await Promise.all([
      writeTenantArchive({
        pool: readPool(deps),
        plan,
        tenantId: found.tenantId,
        exportId: found.id,
        output: encrypt,
        excludeColumns: deps.excludeColumns,
        signal: opts.signal,
        // the tenant app's live progress; a lost progress event is not worth failing the export for
        onProgress: (p) =>
          void (deps.publish ?? noPublish)("export.customer.progress.v1", {
            exportId: found.id,
            tenantId: found.tenantId,
            table: p.table,
            tablesDone: p.tablesDone,
            tablesTotal: p.tablesTotal,
            rows: p.rows,
            bytes: p.bytes,
          }).catch(() => {}),
      }),
      stored,
    ]);
    await writeFile(partial.keys, serializeKeySidecar(sealed.sidecar), { mode: 0o600 });
    await rename(partial.keys, files.keys);
    await rename(partial.data, files.file);
  } catch (error) {
    encrypt?.destroy();
    await Promise.all([rm(partial.data, { force: true }), rm(partial.keys, { force: true })]);
    const retryable = isHesaabError(error) ? error.retryable || error.code === "export_aborted" : false;
    await db
      .update(customerExports)
      .set(
        retryable
          ? { status: "pending", errorMessage: errorText(error) }
          : { status: "failed", errorMessage: errorText(error), expiresAt: new Date(clock().getTime() + HOURS_MS) },
      )
      .where(eq(customerExports.id, found.id));
    throw retryable && isHesaabError(error) && !error.retryable
      ? new HesaabError({ code: error.code, message: error.message, retryable: true, cause: error }) // aborted: the next delivery builds it
      : error;
  }
  const readyAt = clock();
  const expiresAt = new Date(readyAt.getTime() + HOURS_MS);
  const [ready] = await db
    .update(customerExports)
    .set({ status: "ready", localPath: files.file, fileSize: size, checksum: sha.digest("hex"), readyAt, expiresAt, errorMessage: null })
    .where(eq(customerExports.id, found.id))
    .returning();
  await (deps.publish ?? noPublish)("export.customer.ready.v1", {
    exportId: found.id,
    tenantId: found.tenantId,
    size,
    expiresAt: expiresAt.toISOString(),
  }).catch(() => {});
  return ready!;
}

/** Marks an export failed for good (the bus gave up on it), so the tenant app stops waiting. */
export async function failCustomerExport(deps: CustomerExportDeps, opts: { exportId: string; error: unknown; now?: Date }): Promise<void> {
  const now = opts.now ?? new Date();
  const failed = await deps.catalog.db
    .update(customerExports)
    .set({ status: "failed", errorMessage: errorText(opts.error), expiresAt: new Date(now.getTime() + HOURS_MS) })
    .where(and(eq(customerExports.id, opts.exportId), inArray(customerExports.status, ["pending", "running"])))
    .returning({ tenantId: customerExports.tenantId });
  for (const { tenantId } of failed) {
    const { code, message } = describeError(opts.error, { unknownCode: "export_failed" });
    await (deps.publish ?? noPublish)("export.customer.failed.v1", { exportId: opts.exportId, tenantId, error: { code, message, retryable: false } }).catch(
      () => {},
    );
  }
}

/** How many times an export may be downloaded by default (`CUSTOMER_EXPORT_MAX_DOWNLOADS`). */
export const CUSTOMER_EXPORT_MAX_DOWNLOADS = 10;

/** A download opened by {@link openCustomerExport}: the ZIP as it is decrypted, and how to record that it was delivered. */
export interface OpenedCustomerExport {
  export: CustomerExport;
  fileName: string;
  /**
   * The decrypted ZIP. Every chunk is authenticated before it is passed on: a changed or cut file
   * makes the stream fail (at the chunk, or at its end), never end as if it were whole.
   */
  stream: Readable;
  /**
   * Counts the download and writes it to the audit trail: call it once the stream ended and what it
   * gave reached the reader. Before the stream ended (authenticated to its last byte) it records
   * nothing and resolves false, so a download that failed is never counted.
   */
  delivered(): Promise<boolean>;
}

/**
 * The decrypted ZIP of a ready export, for its tenant and the holder of its token, while it lasts and
 * until it was downloaded `maxDownloads` times. Another tenant's export and a wrong token are refused
 * alike (`export_not_found`: nothing tells whether the export exists); a file no longer on the host is
 * `export_file_missing` (its path stays in the error's cause, for the logs).
 */
export async function openCustomerExport(
  deps: CustomerExportDeps,
  opts: { exportId: string; token: string; tenantId: string; now?: Date; maxDownloads?: number },
): Promise<OpenedCustomerExport> {
  const now = opts.now ?? new Date();
  const notFound = (): TenantBackupError =>
    new TenantBackupError({
      code: "export_not_found",
      message: `export ${opts.exportId} not found`,
      hint: "Check the link; it is valid for 24 hours and for your organisation only",
    });
  const [found] = await deps.catalog.db.select().from(customerExports).where(eq(customerExports.id, opts.exportId));
  const given = hashToken(opts.token);
  const stored = found?.downloadTokenHash ? Buffer.from(found.downloadTokenHash, "hex") : undefined;
  if (!found || found.tenantId !== opts.tenantId || !stored || stored.length !== given.length || !timingSafeEqual(stored, given)) throw notFound();
  if (found.status === "pending" || found.status === "running") {
    throw new TenantBackupError({ code: "export_not_ready", message: `export ${found.id} is being prepared`, retryable: true, hint: "Try again in a minute" });
  }
  // what went wrong stays in the catalog (it may name paths or queries): the tenant gets a sentence
  if (found.status === "failed")
    throw new TenantBackupError({ code: "export_failed", message: `export ${found.id} could not be prepared`, hint: "Ask again tomorrow, or contact support" });
  if (found.status !== "ready" || !found.expiresAt || found.expiresAt <= now) {
    throw new TenantBackupError({
      code: "export_expired",
      message: `export ${found.id} expired`,
      hint: "Exports are kept 24 hours; ask for a new one (one per day)",
    });
  }
  const maxDownloads = opts.maxDownloads ?? CUSTOMER_EXPORT_MAX_DOWNLOADS;
  // checked, not reserved: downloads running at once may pass it together, and one that fails counts for nothing
  if (found.downloadCount >= maxDownloads) {
    throw new TenantBackupError({
      code: "export_download_limit",
      message: `export ${found.id} was downloaded ${found.downloadCount} times, the most it may be`,
      hint: "Ask for a new export tomorrow",
    });
  }
  const files = filesOf(deps, found);
  const missing = (err: unknown): never => {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    throw new TenantBackupError({
      code: "export_file_missing",
      message: `export ${found.id} is no longer on this server`,
      hint: "Ask for a new export tomorrow, or contact support",
      cause: err,
      context: { exportId: found.id },
    });
  };
  const sidecar = await readFile(files.keys, "utf8").catch(missing);
  // opened before anything is answered: a missing file is a refusal, not a download cut short
  const data = await open(files.file, "r").catch(missing);
  let decrypt;
  try {
    const { dek, dekId } = await deps.keyRing.openArtifact({ sidecar, expect: identity(found) });
    try {
      decrypt = createDecryptStream({ dek, dekId, expect: identity(found) });
    } finally {
      dek.reveal().fill(0);
    }
  } catch (err) {
    await data.close();
    throw err;
  }
  let ended = false;
  decrypt.once("end", () => (ended = true));
  // a reader that goes away destroys `decrypt`, and pipeline closes the file with it
  pipeline(data.createReadStream(), decrypt).catch(() => {});
  let recorded = false;
  return {
    export: found,
    fileName: `hesaab-export-${found.day}-${found.id}.zip`,
    stream: decrypt,
    async delivered() {
      if (!ended || recorded) return false;
      recorded = true;
      await deps.catalog.db
        .update(customerExports)
        .set({ downloadCount: sql`${customerExports.downloadCount} + 1`, downloadedAt: new Date() })
        .where(eq(customerExports.id, found.id));
      await writeAudit(deps.catalog.db, {
        actor: "download-link",
        action: "customer_export.download",
        targetType: "customer_export",
        targetId: found.id,
        tenantId: found.tenantId,
      });
      return true;
    },
  };
}

/**
 * Removes exports past their 24 hours (and failed or abandoned ones past theirs): files first, then
 * the record becomes `expired`, then the event. One being built (its lock held) is left for the next
 * sweep. Returns the ids expired.
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
        or(
          and(isNotNull(customerExports.expiresAt), lte(customerExports.expiresAt, now)),
          and(isNull(customerExports.expiresAt), lte(customerExports.createdAt, new Date(now.getTime() - HOURS_MS))),
        ),
      ),
    );
  const expired: string[] = [];
  for (const e of due) {
    const done = await withExportLock(deps, e.id, async () => {
      const files = filesOf(deps, e);
      const leftovers = (await readdir(files.dir).catch(() => [] as string[])).filter((f) => f.startsWith(`${e.id}.`));
      await Promise.all(leftovers.map((f) => rm(path.join(files.dir, f), { force: true })));
      await db.update(customerExports).set({ status: "expired", localPath: null }).where(eq(customerExports.id, e.id));
    });
    if (!done.held) continue;
    expired.push(e.id);
    await (deps.publish ?? noPublish)("export.customer.expired.v1", { exportId: e.id, tenantId: e.tenantId }).catch(() => {});
  }
  return expired;
}
