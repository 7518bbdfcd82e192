// `hesaab keys rotate|shred`: tenant key rotation (re-wrap every sidecar) and crypto-shredding.
import type { Command } from "commander";
import { rotateTenantKeys, shredTenant } from "@hesaab/tenant-backup";
import { cliActor } from "../env";
import { usageError } from "../options";
import { printJson } from "../output";
import { openDeps } from "./backup";

export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("tenant keys: rotation and crypto-shredding");
  keys
    .command("rotate")
    .description("new key version per tenant, re-wrap every backup's key sidecar (catalog and providers), retire old versions")
    .argument("[tenantIds...]", "tenant ids")
    .option("--all", "every tenant with a key")
    .option("--behind-master", "only tenants whose key predates the highest BACKUP_MASTER_KEYS version")
    .option("--no-retire", "keep the old versions usable")
    .option("--dry-run", "list what would be re-wrapped")
    .option("--json", "print the report as JSON")
    .action(async (tenantIds: string[], opts: { all?: boolean; behindMaster?: boolean; retire: boolean; dryRun?: boolean; json?: boolean }) => {
      const deps = await openDeps();
      try {
        let tenants = tenantIds;
        if (opts.behindMaster) tenants = await deps.tenantKeys.tenantsBehindMaster();
        else if (opts.all)
          tenants = (await deps.catalog.pool.query<{ tenant_id: string }>("select distinct tenant_id from backup.tenant_keys order by 1")).rows.map(
            (r) => r.tenant_id,
          );
        if (!tenants.length) throw usageError("no tenant to rotate", "Give tenant ids, --all or --behind-master");
        const report = await rotateTenantKeys(deps, { tenantIds: tenants, retire: opts.retire, dryRun: opts.dryRun, requestedBy: cliActor() });
        if (opts.json) return printJson(report);
        for (const t of report.tenants) {
          process.stdout.write(
            `${t.failures.length ? "FAILED" : "ok    "} ${t.tenantId}  ${opts.dryRun ? "would re-wrap" : "re-wrapped"} ${t.rewrapped}${t.newKeyVersion ? `, now v${t.newKeyVersion}` : ""}${t.retired.length ? `, retired v${t.retired.join(", v")}` : ""}\n`,
          );
          for (const f of t.failures) process.stdout.write(`         ${f.backupId}: ${f.error}\n`);
        }
        if (report.tenants.some((t) => t.failures.length)) process.exitCode = 1;
      } finally {
        await deps.close();
      }
    });
  keys
    .command("shred")
    .description("forget a tenant's keys: every backup of the tenant becomes unreadable (irreversible)")
    .argument("<tenantId>", "the tenant")
    .requiredOption("--yes", "confirm: this cannot be undone")
    .action(async (tenantId: string) => {
      const deps = await openDeps();
      try {
        const { versions } = await shredTenant(deps, { tenantId, requestedBy: cliActor() });
        process.stdout.write(
          `shredded ${versions} key version(s) of ${tenantId}: its backups can no longer be decrypted.\n` +
            "Erasure is complete once the disaster-recovery backups holding the old keys expire (DISASTER_BACKUP_RETENTION_DAYS, 90 by default).\n",
        );
      } finally {
        await deps.close();
      }
    });
}
