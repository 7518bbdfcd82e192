// `hesaab restore tenant …`, `hesaab restore rollback`, `hesaab restores list`.
import { type Command, InvalidArgumentError } from "commander";
import { desc } from "drizzle-orm";
import { redactUrl } from "@hesaab/config";
import { restoreOperations } from "@hesaab/db";
import { restoreTenants, rollbackRestore, type RestoreReport } from "@hesaab/tenant-backup";
import { cliActor } from "../env";
import { openDeps } from "./backup";
import { positiveInt, usageError } from "../options";
import { printJson, progressDone, progressLine } from "../output";

function provider(value: string): "b2" | "r2" {
  if (value !== "b2" && value !== "r2") throw new InvalidArgumentError("expected b2 or r2");
  return value;
}

function time(value: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError("expected a date and time, e.g. 2026-11-25T23:00:00Z");
  return d;
}

function printReport(report: RestoreReport, json?: boolean): void {
  if (json) return printJson(report);
  for (const d of report.dependencies ?? []) process.stdout.write(`copied  ${d.table}: ${d.rows} rows the target lacked\n`);
  for (const t of report.tenants) {
    const where = t.providerUsed ? ` from ${t.providerUsed}${t.fallbackFrom ? ` (fell back from ${t.fallbackFrom.join(", ")})` : ""}` : "";
    process.stdout.write(
      t.ok ? `ok      ${t.tenantId}  ${t.backupId}${where}, ${t.rows} rows\n` : `FAILED  ${t.tenantId}  ${t.error?.message} [${t.error?.code}]\n`,
    );
    for (const w of t.warnings ?? []) process.stdout.write(`warning ${t.tenantId}: ${w}\n`);
  }
  process.stdout.write(
    `\nrestore ${report.operationId}: ${report.status}${report.rollbackAvailable ? `; undo with: hesaab restore rollback ${report.operationId}` : ""}\n`,
  );
}

export function registerRestore(program: Command): void {
  const restore = program.command("restore").description("restore tenants from their backups (verified first, one transaction per tenant)");
  restore
    .command("tenant")
    .description("restore one or more tenants (or --all) from a backup or the latest one at a point in time")
    .argument("[tenantIds...]", "tenant ids")
    .option("--all", "every tenant that has a backup")
    .option("--backup <id>", "this backup (its tenant is restored)")
    .option("--at <time>", "the latest backup at or before this time", time)
    .option("--from <provider>", "b2 or r2 (the other is used if this one fails)", provider, "b2")
    .option("--target-db <url>", "restore as a copy into this database instead of production (its schema must exist)")
    .option("--with-dependencies", "with --target-db: first copy the rows of the global tables tenant rows reference (e.g. currencies) from the platform")
    .option("--allow-dropped-columns", "load backups whose columns were dropped since, leaving those values out")
    .option("--concurrency <n>", "tenants restored at once", positiveInt, 2)
    .option("--json", "print the report as JSON")
    .action(
      async (
        tenantIds: string[],
        opts: {
          all?: boolean;
          backup?: string;
          at?: Date;
          from: "b2" | "r2";
          targetDb?: string;
          withDependencies?: boolean;
          allowDroppedColumns?: boolean;
          concurrency: number;
          json?: boolean;
        },
      ) => {
        if (!opts.backup && Boolean(opts.all) === tenantIds.length > 0) {
          throw usageError("give tenant ids, --all or --backup", "e.g. `hesaab restore tenant <id> --at 2026-11-25T23:00:00Z`");
        }
        if (opts.backup && opts.at) throw usageError("give --backup or --at, not both");
        if (opts.withDependencies && !opts.targetDb) throw usageError("--with-dependencies goes with --target-db (production has its global tables)");
        const deps = await openDeps();
        try {
          const report = await restoreTenants(deps, {
            tenantIds: tenantIds.length ? tenantIds : undefined,
            all: opts.all,
            backupId: opts.backup,
            at: opts.at,
            provider: opts.from,
            targetDb: opts.targetDb,
            withDependencies: opts.withDependencies,
            allowDroppedColumns: opts.allowDroppedColumns,
            concurrency: opts.concurrency,
            requestedBy: cliActor(),
            onProgress: (p) => progressLine(`${p.tenantId}: ${p.phase} ${p.percentage}% (${p.rowsDone} rows)`),
          });
          progressDone();
          printReport(report, opts.json);
          if (report.status !== "completed") process.exitCode = 1;
        } finally {
          await deps.close();
        }
      },
    );

  restore
    .command("rollback")
    .description("put back the state from before a restore (its pre-restore snapshots)")
    .argument("<operationId>", "the restore operation (rst_…)")
    .option("--json", "print the report as JSON")
    .action(async (operationId: string, opts: { json?: boolean }) => {
      const deps = await openDeps();
      try {
        const report = await rollbackRestore(deps, { operationId, requestedBy: cliActor() });
        printReport(report, opts.json);
        if (report.status !== "completed") process.exitCode = 1;
      } finally {
        await deps.close();
      }
    });

  program
    .command("restores")
    .description("restore operations")
    .command("list")
    .option("--limit <n>", "at most this many", positiveInt, 50)
    .option("--json", "print JSON")
    .action(async (opts: { limit: number; json?: boolean }) => {
      const deps = await openDeps();
      try {
        const rows = await deps.catalog.db.select().from(restoreOperations).orderBy(desc(restoreOperations.initiatedAt)).limit(opts.limit);
        if (opts.json) return printJson(rows.map((r) => ({ ...r, targetDb: r.targetDb ? redactUrl(r.targetDb) : null })));
        if (!rows.length) return void process.stdout.write("no restores\n");
        for (const r of rows) {
          process.stdout.write(
            `${r.id}  ${r.status.padEnd(11)} ${String(r.progressPercentage).padStart(3)}%  ${r.restoreType.padEnd(10)} ${r.targetTenants.length} tenant(s)  ${r.storageProvider}${r.providerUsed && r.providerUsed !== r.storageProvider ? `→${r.providerUsed}` : ""}  ${r.initiatedAt.toISOString()}  by ${r.initiatedBy}${r.rollbackAvailable ? "  (rollback available)" : ""}\n`,
          );
        }
      } finally {
        await deps.close();
      }
    });
}
