// `hesaab backup tenant …` and `hesaab backups list`: tenant backups, in-process (no service needed).
import type { Command } from "commander";
import { catalogUrl, errorText } from "@hesaab/config";
import { listBackupRecords, requireMigratedCatalog, type BackupRecord } from "@hesaab/db";
import { activeTenants, backupTenants, openTenantBackupDeps, screenBackupRequest, type TenantBackupOutcome } from "@hesaab/tenant-backup";
import { cliActor, tenantBackupEnv } from "../env";
import { positiveInt, usageError } from "../options";
import { humanBytes as mb, printJson, progressDone, progressLine } from "../output";

/**
 * Tenant backups' dependencies from the environment, once the catalog is known to be migrated
 * (`catalog_not_migrated` otherwise: every command that opens them reads or writes the catalog).
 */
export async function openDeps({ units }: { units?: number } = {}) {
  const env = tenantBackupEnv();
  const deps = openTenantBackupDeps({
    env,
    workDir: `${env.HESAAB_DATA_DIR}/restores`,
    gzipLevel: env.BACKUP_GZIP_LEVEL,
    discover: { tenantColumn: env.TENANT_COLUMN },
    units,
  });
  try {
    await requireMigratedCatalog({ pool: deps.catalog.pool, url: catalogUrl(env) });
  } catch (err) {
    await deps.close();
    throw err;
  }
  return deps;
}

export function describeRecord(r: BackupRecord) {
  return {
    id: r.id,
    type: r.backupType,
    tenantId: r.tenantId,
    status: r.status,
    verification: r.verificationStatus,
    purpose: r.purpose,
    size: r.fileSize,
    checksum: r.checksum,
    providers: Object.fromEntries(Object.entries(r.providers).map(([p, c]) => [p, c.status])),
    rows: r.metadata.rows ?? null,
    createdAt: r.createdAt.toISOString(),
    expiresAt: r.expiresAt?.toISOString() ?? null,
    error: r.errorMessage,
  };
}

export function registerBackup(program: Command): void {
  const backup = program.command("backup").description("take backups now, in this process");
  backup
    .command("tenant")
    .description("back up one or more tenants (or --all active tenants) to every configured provider")
    .argument("[tenantIds...]", "tenant ids")
    .option("--all", "every active tenant")
    .option("--concurrency <n>", "backup runs at once (a batch of small tenants, or one large tenant)", positiveInt, 2)
    .option("--batch-size <n>", "small tenants backed up together (one snapshot, one COPY per table)", positiveInt, 50)
    .option("--json", "print the backup records as JSON")
    .action(async (tenantIds: string[], opts: { all?: boolean; concurrency: number; batchSize: number; json?: boolean }) => {
      if (Boolean(opts.all) === tenantIds.length > 0) {
        throw usageError("give tenant ids or --all, not both and not neither", "e.g. `hesaab backup tenant --all`");
      }
      const deps = await openDeps({ units: opts.concurrency });
      try {
        // ids given are checked first, as "back up now" in the admin app does: the others are refused, each with its reason
        const { accepted, refused } = opts.all ? { accepted: await activeTenants(deps), refused: [] } : await screenBackupRequest(deps, { tenantIds });
        const tenants = accepted;
        if (refused.length) process.exitCode = 1;
        if (!opts.json) for (const r of refused) process.stdout.write(`REFUSED  ${r.tenantId}  ${r.message} [${r.code}]\n`);
        const results: ReturnType<typeof describeRecord>[] = [];
        const failures: { tenantId: string; error: string }[] = [];
        const report = (o: TenantBackupOutcome): void => {
          if (o.ok) results.push(describeRecord(o.record));
          else failures.push({ tenantId: o.tenantId, error: errorText(o.error) });
          if (opts.json) return;
          progressDone();
          if (!o.ok) return void process.stdout.write(`FAILED   ${o.tenantId}  ${errorText(o.error)}\n`);
          const { record } = o;
          process.stdout.write(
            `${record.status === "completed" ? "ok      " : "DEGRADED"} ${o.tenantId}  ${record.id}  ${mb(record.fileSize)}  ${Object.entries(record.providers)
              .map(([p, c]) => `${p}:${c.status}`)
              .join(" ")}\n`,
          );
          for (const [p, c] of Object.entries(record.providers))
            if (c.error) process.stdout.write(`         ${p}: ${c.error} (storage-svc copies it there once ${p} works again)\n`);
          progressLine(`[${results.length + failures.length}/${tenants.length}] backed up`);
        };
        await backupTenants(deps, {
          tenantIds: tenants,
          purpose: "on_demand",
          requestedBy: cliActor(),
          concurrency: opts.concurrency,
          batchSize: opts.batchSize,
          onResult: report,
          onProgress: (p) =>
            progressLine(
              `[${results.length + failures.length}/${tenants.length}] ${p.tenantId}: ${p.table} ${p.tablesDone}/${p.tablesTotal} tables, ${mb(p.bytes)}`,
            ),
        });
        if (opts.json) printJson({ backups: results, failures, refused });
        else {
          progressDone();
          process.stdout.write(`\n${results.length} backed up, ${failures.length} failed${refused.length ? `, ${refused.length} refused` : ""}\n`);
        }
        if (failures.length) process.exitCode = 1;
      } finally {
        await deps.close();
      }
    });

  program
    .command("backups")
    .description("the catalog of backups")
    .command("list")
    .description("list backups, newest first")
    .option("--tenant <id>", "only this tenant's")
    .option("--type <type>", "tenant | disaster | customer")
    .option("--limit <n>", "at most this many", positiveInt, 50)
    .option("--json", "print JSON")
    .action(async (opts: { tenant?: string; type?: "tenant" | "disaster" | "customer"; limit: number; json?: boolean }) => {
      const deps = await openDeps();
      try {
        const rows = await listBackupRecords(deps.catalog.db, { tenantId: opts.tenant, type: opts.type, limit: opts.limit });
        if (opts.json) return printJson(rows.map(describeRecord));
        if (!rows.length) return void process.stdout.write("no backups\n");
        for (const r of rows) {
          const providers = Object.entries(r.providers)
            .map(([p, c]) => `${p}:${c.status}`)
            .join(" ");
          process.stdout.write(
            `${r.id}  ${r.backupType.padEnd(8)} ${(r.tenantId ?? "-").padEnd(36)} ${r.status.padEnd(9)} ${mb(r.fileSize).padStart(9)}  ${r.createdAt.toISOString()}  ${providers}\n`,
          );
        }
      } finally {
        await deps.close();
      }
    });
}
