// `hesaab drill run|report`: restore drills (packages/drills) in-process, the same code storage-svc schedules.
import type { Command } from "commander";
import { catalogUrl } from "@hesaab/config";
import { requireMigratedCatalog } from "@hesaab/db";
import { drillDisaster, drillReport, drillTenant, openDrillDeps, runNightlyDrills, type DrillResult } from "@hesaab/drills";
import { drillEnv } from "../env";
import { usageError } from "../options";
import { printJson } from "../output";

async function openDeps() {
  const env = drillEnv();
  const deps = await openDrillDeps({ env: { ...env, DRILL_DATABASE_URL: env.DRILL_DATABASE_URL }, workDir: `${env.HESAAB_DATA_DIR}/drills` });
  try {
    await requireMigratedCatalog({ pool: deps.tenantBackup.catalog.pool, url: catalogUrl(env) });
  } catch (err) {
    await deps.close();
    throw err;
  }
  return { env, deps };
}

function resultLine(r: DrillResult): string {
  const what = r.kind === "tenant" ? `tenant ${r.tenantId} backup ${r.backupId}` : `disaster backup ${r.backupId}`;
  const tables = Object.values(r.tables);
  const detail =
    r.outcome === "failed"
      ? `${r.error?.code}: ${r.error?.message}`
      : `${tables.filter((t) => t.match).length}/${tables.length} tables match${r.providerUsed ? `, from ${r.providerUsed}` : ""}`;
  return `${r.drillId}  ${r.outcome.padEnd(8)}  ${what}  (${detail})`;
}

interface RunFlags {
  tenant?: string[];
  backup?: string;
  disaster?: boolean;
  from?: string;
  json?: boolean;
}

async function run(flags: RunFlags): Promise<void> {
  if (flags.disaster && (flags.tenant?.length || flags.backup))
    throw usageError("--disaster drills the platform's latest disaster backup: give no --tenant or --backup");
  const provider = flags.from;
  if (provider !== undefined && provider !== "b2" && provider !== "r2") throw usageError("--from is b2 or r2");
  const { env, deps } = await openDeps();
  let results: DrillResult[];
  try {
    if (flags.disaster) results = [await drillDisaster(deps, { provider, root: env.DR_STORAGE_ROOT || undefined })];
    else if (flags.backup) results = [await drillTenant(deps, { backupId: flags.backup, provider })];
    else if (flags.tenant?.length) {
      results = [];
      for (const tenantId of flags.tenant) results.push(await drillTenant(deps, { tenantId, provider }));
    } else {
      const windowDays = env.DRILL_WINDOW_DAYS ?? env.BACKUP_RETENTION_DAYS;
      results = (await runNightlyDrills(deps, { windowDays, minSample: env.DRILL_MIN_SAMPLE, maxSample: env.DRILL_MAX_SAMPLE })).results;
    }
  } finally {
    await deps.close();
  }
  // a drill that did not match is a failed command (scripts and cron see it), after its report
  if (results.some((r) => r.outcome !== "match")) process.exitCode = 2;
  if (flags.json) return printJson({ drills: results });
  process.stdout.write(results.length ? `${results.map(resultLine).join("\n")}\n` : "no tenant has a backup to drill\n");
}

async function report(flags: { json?: boolean; tenant?: string; limit?: string }): Promise<void> {
  const { env, deps } = await openDeps();
  let r;
  try {
    r = await drillReport({
      db: deps.tenantBackup.catalog.db,
      keys: deps.drMasterKeys,
      windowDays: env.DRILL_WINDOW_DAYS ?? env.BACKUP_RETENTION_DAYS,
      limit: flags.limit ? Number(flags.limit) : 20,
      ...(flags.tenant ? { tenantId: flags.tenant } : {}),
    });
  } finally {
    await deps.close();
  }
  if (r.tampered > 0) process.exitCode = 2;
  if (flags.json) return printJson(r);
  const c = r.coverage;
  const lines = [
    `coverage (${c.windowDays} days): ${c.drilledInWindow} of ${c.tenantsWithBackups} tenants with a backup drilled`,
    c.oldestUndrilled
      ? `  oldest undrilled: ${c.oldestUndrilled.tenantId} (${c.oldestUndrilled.lastDrilledAt ? `last drilled ${c.oldestUndrilled.lastDrilledAt.toISOString()}` : "never drilled"})`
      : "  every tenant with a backup was drilled in the window",
    "",
    ...r.drills.map(
      (d) =>
        `${d.finishedAt.toISOString()}  ${d.id}  ${d.kind.padEnd(8)}  ${d.outcome.padEnd(8)}  ${d.attestation === "valid" ? "attested" : d.attestation.toUpperCase()}  ${d.tenantId ?? "platform"}  ${d.backupId}`,
    ),
  ];
  if (r.tampered > 0) lines.push("", `${r.tampered} drill record(s) do not match their signature: the catalog was edited`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

export function registerDrill(program: Command): void {
  const drill = program.command("drill").description("restore drills: a backup restored into a scratch database and compared with its manifest, attested");
  drill
    .command("run")
    .description(
      "drill the nightly sample, given tenants (--tenant), a backup (--backup), or the latest disaster backup (--disaster); exit 2 unless every drill matched",
    )
    .option("--tenant <id...>", "drill these tenants' latest backups")
    .option("--backup <id>", "drill this tenant backup")
    .option("--disaster", "drill the latest disaster backup (row counts against its manifest)")
    .option("--from <provider>", "restore from b2 or r2 (the other is the fallback)")
    .option("--json", "machine-readable output")
    .action((flags: RunFlags) => run(flags));
  drill
    .command("report")
    .description("coverage of the window and the latest drills, each signature verified; exit 2 when a record was tampered with")
    .option("--tenant <id>", "only this tenant's drills")
    .option("--limit <n>", "drills listed", "20")
    .option("--json", "machine-readable output")
    .action((flags: { json?: boolean; tenant?: string; limit?: string }) => report(flags));
}
