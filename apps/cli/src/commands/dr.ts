// `hesaab dr …`: disaster recovery. `list` and `restore` work on a bare machine: no catalog, no
// services, only the provider credentials (B2_* / R2_*) and DR_MASTER_KEYS.
import { type Command, Option } from "commander";
import { ConfigError } from "@hesaab/config";
import { KeyRing } from "@hesaab/crypto";
import { migrate, openCatalog, requireMigratedCatalog, type Catalog } from "@hesaab/db";
import {
  backupPlatform,
  deployedGitCommit,
  listDisasterBackups,
  restorePlatform,
  rotateDisasterKeys,
  type DisasterBackupResult,
  type DisasterListing,
  type RestoreReport,
  type RotationReport,
} from "@hesaab/dr";
import { openBackend, providersFromEnv, type ProviderEnv, type StorageBackend } from "@hesaab/storage";
import { cliActor, drEnv, drKeysEnv } from "../env";
import { positiveInt, usageError } from "../options";
import { printJson, progressDone, progressLine } from "../output";

type ProviderName = "b2" | "r2";

/** The configured providers, `from` first. Warns (stderr) when `from` is not configured and another one is used. */
function openProviders(from: ProviderName | undefined): { backends: StorageBackend[]; root: string | undefined } {
  const env = drEnv();
  // envPieces.b2/r2 build their keys from a template, so zod's output type does not name them: the values are there.
  const configs = providersFromEnv(env as ProviderEnv);
  if (configs.length === 0) {
    throw new ConfigError({
      code: "config_invalid",
      message: "no storage provider is configured",
      hint: "Set B2_BUCKET_NAME, B2_ENDPOINT_URL, B2_ACCESS_KEY_ID, B2_SECRET_ACCESS_KEY (or the R2_* ones)",
    });
  }
  if (from && !configs.some((c) => c.name === from)) {
    process.stderr.write(`warning: ${from} is not configured (${from.toUpperCase()}_* variables); using ${configs.map((c) => c.name).join(", ")}\n`);
  }
  const ordered = [...configs].sort((a, b) => Number(b.name === from) - Number(a.name === from));
  return { backends: ordered.map((config) => openBackend({ backend: config }).backend), root: env.DR_STORAGE_ROOT || undefined };
}

/** An abort signal tied to Ctrl-C / SIGTERM, so temp files are removed and uploads aborted. */
function interruptible(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    },
  };
}

const mb = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

// ---- backup ------------------------------------------------------------------------------------

interface BackupFlags {
  catalog: boolean;
  json?: boolean;
}

async function backup(flags: BackupFlags): Promise<void> {
  const env = drEnv();
  if (!env.PLATFORM_DATABASE_URL)
    throw new ConfigError({ code: "config_invalid", message: "PLATFORM_DATABASE_URL is not set: which database should be backed up?" });
  const { backends, root } = openProviders(undefined);
  const keyRing = new KeyRing(drKeysEnv());
  const catalogUrl = flags.catalog ? (env.BACKUP_DATABASE_URL ?? env.PLATFORM_DATABASE_URL) : undefined;
  let catalog: Catalog | undefined;
  if (catalogUrl) {
    await migrate({ url: catalogUrl });
    catalog = openCatalog({ url: catalogUrl, max: 2, connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS });
  }
  const { signal, dispose } = interruptible();
  let result: DisasterBackupResult;
  try {
    result = await backupPlatform({
      platformUrl: env.PLATFORM_DATABASE_URL,
      keyRing,
      backends,
      catalog: catalog?.db,
      configFiles: env.DR_CONFIG_FILES,
      gitCommit: await deployedGitCommit({ configured: env.DEPLOYED_GIT_COMMIT }),
      retentionDays: env.DISASTER_BACKUP_RETENTION_DAYS,
      root,
      purpose: "on_demand",
      requestedBy: cliActor(),
      signal,
      onProgress: (p) => progressLine(p.phase === "dumping" ? `dumping: ${mb(p.dumpBytes)}` : p.phase),
    });
  } finally {
    progressDone();
    dispose();
    await catalog?.close();
  }
  if (flags.json) return printJson(result);
  const out = [
    `disaster backup ${result.backupId}: ${result.status}`,
    `  data:    ${result.data.location} (${mb(result.data.size)}, sha256 ${result.data.sha256})`,
    `  config:  ${result.config.location} (${result.manifest.configFiles.length} files)`,
    `  source:  ${result.manifest.databaseName}, PostgreSQL ${result.manifest.serverVersion}, ${mb(result.manifest.databaseSizeBytes)}, ${Object.keys(result.manifest.tables).length} tables`,
    `  git:     ${result.manifest.gitCommit ?? "unknown"}`,
    ...result.providers.map((p) => `  ${p.provider}:      ${p.ok ? "stored and verified" : `NOT OK: ${p.problem}`}`),
    `  expires: ${result.expiresAt.toISOString()}`,
    `  took ${secs(result.durationMs)}`,
  ];
  process.stdout.write(`${out.join("\n")}\n`);
}

// ---- list --------------------------------------------------------------------------------------

async function list(flags: { from: ProviderName; json?: boolean }): Promise<void> {
  const { backends, root } = openProviders(flags.from);
  const listing = await listDisasterBackups({ backends, root });
  if (flags.json) return printJson(listing);
  printListing(
    listing,
    backends.map((b) => b.name),
  );
}

function printListing(listing: DisasterListing, providers: string[]): void {
  for (const p of listing.providers) {
    if (!p.ok) process.stderr.write(`warning: cannot list ${p.provider}: ${p.error} [${p.errorCode}]\n`);
    else if (p.strays) process.stderr.write(`note: ${p.provider} holds ${p.strays} object(s) under disaster/ outside the layout\n`);
  }
  if (listing.backups.length === 0) {
    process.stdout.write("no disaster backups found\n");
    return;
  }
  const rows = [["backup", "created (UTC)", "size", "git", "tables", "rows", ...providers]];
  for (const b of listing.backups) {
    const size = b.copies.find((c) => c.data)?.data?.size;
    rows.push([
      b.backupId,
      b.createdAt.replace("T", " ").slice(0, 19),
      size === undefined ? "-" : mb(size),
      String(b.summary.gitCommit ?? "-").slice(0, 12),
      String(b.summary.tables ?? "-"),
      String(b.summary.rows ?? "-"),
      ...providers.map((name) => {
        const copy = b.copies.find((c) => c.provider === name);
        if (!listing.providers.find((p) => p.provider === name)?.ok) return "unlisted";
        return !copy ? "missing" : copy.complete ? "complete" : `incomplete (${copy.problems.join("; ")})`;
      }),
    ]);
  }
  process.stdout.write(`${table(rows)}\n`);
}

// ---- restore -----------------------------------------------------------------------------------

interface RestoreFlags {
  backup?: string;
  latest?: boolean;
  from: ProviderName;
  targetDb: string;
  configDir?: string;
  jobs: number;
  forceNonEmpty?: boolean;
  skipRoles?: boolean;
  workDir?: string;
  json?: boolean;
}

async function restore(flags: RestoreFlags): Promise<void> {
  if (Boolean(flags.backup) === Boolean(flags.latest)) throw usageError("give --backup <id> or --latest");
  const { backends, root } = openProviders(flags.from);
  const keyRing = new KeyRing(drKeysEnv());
  const { signal, dispose } = interruptible();
  let report: RestoreReport;
  try {
    report = await restorePlatform({
      ...(flags.backup ? { backupId: flags.backup } : { latest: true }),
      backends,
      keyRing,
      targetUrl: flags.targetDb,
      configDir: flags.configDir,
      jobs: flags.jobs,
      allowNonEmpty: flags.forceNonEmpty,
      roles: flags.skipRoles ? "skip" : "missing",
      workDir: flags.workDir,
      root,
      signal,
      onProgress: (p) => progressLine(`${p.phase}${p.provider ? ` (${p.provider})` : ""}`),
    });
  } finally {
    progressDone();
    dispose();
  }
  if (!report.ok) process.exitCode = 2;
  if (flags.json) return printJson(report);
  printRestoreReport(report);
}

function printRestoreReport(r: RestoreReport): void {
  const lines = [
    `restored ${r.backupId} (taken ${r.createdAt}, git ${r.gitCommit ?? "unknown"}, PostgreSQL ${r.serverVersion}, source ${r.sourceDatabase} ${mb(r.sourceSizeBytes)})`,
    `  into     ${r.target}${r.createdDatabase ? " (database created)" : ""}`,
    `  from     ${r.providerUsed}${r.fellBack ? ` — FELL BACK: ${r.requestedProvider} could not serve it` : ""}`,
  ];
  for (const f of r.failures) lines.push(`  passed over ${f.provider} (${f.stage}): ${f.code}: ${f.message}`);
  lines.push(`  artifact ${mb(r.bytes.artifact)} verified (sha256 + authenticated decrypt) before the target was touched; dump ${mb(r.bytes.dump)}`);
  const bad = r.tables.filter((t) => !t.ok);
  lines.push(
    bad.length === 0
      ? `  tables   ${r.tables.length} checked: every row count equals the manifest (${r.tables.reduce((a, t) => a + t.expected, 0)} rows)`
      : `  tables   ${bad.length} of ${r.tables.length} DIFFER from the manifest:`,
  );
  for (const t of bad) lines.push(`    ${t.table}: expected ${t.expected}, found ${t.actual ?? "no table"}`);
  if (r.configFiles.length === 0) lines.push("  config   the backup holds no configuration files");
  else if (r.configFiles.every((f) => f.writtenTo))
    lines.push(`  config   ${r.configFiles.length} files written:`, ...r.configFiles.map((f) => `    ${f.writtenTo}`));
  else lines.push(`  config   ${r.configFiles.length} files in the backup (pass --config-dir to write them): ${r.configFiles.map((f) => f.path).join(", ")}`);
  if (!r.roles) lines.push("  roles    none created (skipped, or the backup carries none)");
  else {
    lines.push(
      `  roles    created ${r.roles.created.length ? r.roles.created.join(", ") : "none"}; already there (left as they are): ${r.roles.existing.join(", ") || "none"}`,
    );
    if (!r.roles.passwords && r.roles.created.length)
      lines.push("           WITHOUT PASSWORDS (the backup was not taken as a superuser): set them with ALTER ROLE … PASSWORD");
    lines.push(
      r.roles.owners
        ? "  owners   every object owned by its role again"
        : `  owners   objects are owned by the restoring user: ${r.roles.unavailableOwners.join(", ")} missing on this server or not yours to act as (ALTER … OWNER TO to hand them over)`,
    );
  }
  lines.push(
    `  took     ${secs(r.durationsMs.total)} (fetch + verify ${secs(r.durationsMs.fetch)}, pg_restore ${secs(r.durationsMs.restore)}, check ${secs(r.durationsMs.check)})`,
  );
  lines.push(r.ok ? "OK" : "RESTORED WITH DIFFERENCES: see the tables above");
  process.stdout.write(`${lines.join("\n")}\n`);
}

// ---- rotate-keys -------------------------------------------------------------------------------

async function rotateKeys(flags: { dryRun?: boolean; catalog: boolean; json?: boolean }): Promise<void> {
  const env = drEnv();
  const { backends, root } = openProviders(undefined);
  const keyRing = new KeyRing(drKeysEnv());
  const catalogUrl = flags.catalog ? (env.BACKUP_DATABASE_URL ?? env.PLATFORM_DATABASE_URL) : undefined;
  const catalog = catalogUrl ? openCatalog({ url: catalogUrl, max: 2, connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS }) : undefined;
  let report: RotationReport;
  try {
    // before any sidecar is re-wrapped: the catalog's copies must be writable too
    if (catalog && catalogUrl) await requireMigratedCatalog({ pool: catalog.pool, url: catalogUrl });
    report = await rotateDisasterKeys({ backends, keyRing, catalog: catalog?.db, dryRun: flags.dryRun, root });
  } finally {
    await catalog?.close();
  }
  if (!report.ok) process.exitCode = 1;
  if (flags.json) return printJson(report);
  const verb = report.dryRun ? "would re-wrap" : "re-wrapped";
  const lines = report.providers.map((p) =>
    p.ok
      ? `${p.provider}: ${p.sidecars} sidecars, ${verb} ${p.rewrapped}, already current ${p.current}, failed ${p.failed}`
      : `${p.provider}: NOT LISTED: ${p.error?.code}: ${p.error?.message}`,
  );
  for (const p of report.providers)
    for (const o of p.outcomes.filter((x) => x.error)) lines.push(`  ${p.provider} ${o.key}: ${o.error!.code}: ${o.error!.message}`);
  if (report.catalog) {
    const c = report.catalog;
    lines.push(
      c.error ? `catalog: NOT UPDATED: ${c.error.code}: ${c.error.message}` : `catalog: ${c.records} records, ${verb} ${c.rewrapped}, failed ${c.failed}`,
    );
  } else lines.push("catalog: not configured (only the buckets' sidecars)");
  lines.push(
    report.ok
      ? report.dryRun
        ? "dry run: nothing written"
        : "done: older DR_MASTER_KEYS versions are no longer needed by these backups"
      : "FAILURES: keep the old key versions until a run reports none",
  );
  process.stdout.write(`${lines.join("\n")}\n`);
}

// ---- registration ------------------------------------------------------------------------------

const fromOption = () => new Option("--from <provider>", "provider to read from first (the other is the fallback)").choices(["b2", "r2"]);

export function registerDr(program: Command): void {
  const dr = program.command("dr").description("disaster recovery: full-platform backups, and restores from nothing but the buckets and DR_MASTER_KEYS");

  dr.command("backup")
    .description("back up the whole platform database (pg_dump -Fc) and the configuration files to every provider, now")
    .option("--no-catalog", "do not record the backup in the catalog")
    .option("--json", "print the result as JSON")
    .action((flags: BackupFlags) => backup(flags));

  dr.command("list")
    .description("list disaster backups from the buckets alone (no catalog needed)")
    .addOption(fromOption().default("b2"))
    .option("--json", "print the listing as JSON")
    .action((flags: { from: ProviderName; json?: boolean }) => list(flags));

  dr.command("restore")
    .description("restore a disaster backup into an empty database: verified before anything is created, then pg_restore, then row counts checked")
    .option("--backup <id>", "the backup to restore")
    .option("--latest", "the newest complete backup")
    .addOption(fromOption().makeOptionMandatory())
    .requiredOption("--target-db <url>", "database to restore into (created if missing; must be empty)")
    .option("--config-dir <path>", "write the backup's configuration files below this directory")
    .addOption(new Option("--jobs <n>", "pg_restore parallel jobs").default(2).argParser(positiveInt))
    .option("--force-non-empty", "restore into a database that is not empty (objects of the same names are dropped first)")
    .option("--skip-roles", "do not create the backup's roles the target server lacks (by default they are created; existing roles are never changed)")
    .option("--work-dir <path>", "where the decrypted dump is staged (needs room for it); default the temp dir")
    .option("--json", "print the report as JSON")
    .action((flags: RestoreFlags) => restore(flags));

  dr.command("rotate-keys")
    .description("re-wrap every disaster backup's key sidecar under the highest DR_MASTER_KEYS version, in every provider and the catalog")
    .option("--dry-run", "report what would change, write nothing")
    .option("--no-catalog", "leave the catalog alone (buckets only)")
    .option("--json", "print the report as JSON")
    .action((flags: { dryRun?: boolean; catalog: boolean; json?: boolean }) => rotateKeys(flags));
}
