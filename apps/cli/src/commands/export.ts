// `hesaab export customer <tenantId>` and `hesaab export sweep`: the customer self-backup, in-process
// (what backup-svc does when a tenant asks through the tenant app), for support and scripts.
import { createWriteStream } from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import {
  buildCustomerExport,
  expireCustomerExports,
  exportSummary,
  openCustomerExport,
  requestCustomerExport,
  type CustomerExport,
} from "@hesaab/tenant-backup";
import { cliActor, tenantBackupEnv } from "../env";
import { humanBytes, printJson } from "../output";
import { openDeps } from "./backup";

async function exportDeps() {
  const deps = await openDeps();
  const env = tenantBackupEnv();
  return { deps, exportDeps: { ...deps, exportDir: path.join(env.HESAAB_DATA_DIR, "exports"), excludeColumns: env.CUSTOMER_EXPORT_EXCLUDE_COLUMNS } };
}

const describeExport = (e: CustomerExport) => ({ ...exportSummary(e), path: e.localPath });

export function registerExport(program: Command): void {
  const exp = program.command("export").description("customer self-backups: a tenant's data as a ZIP, held 24 hours on this host, never in the clouds");
  exp
    .command("customer")
    .description("take today's export of a tenant (one per tenant per day) and optionally save the ZIP")
    .argument("<tenantId>", "the tenant")
    .option("--out <file>", "also write the decrypted ZIP here")
    .option("--json", "print the export as JSON")
    .action(async (tenantId: string, opts: { out?: string; json?: boolean }) => {
      const { deps, exportDeps: ed } = await exportDeps();
      try {
        const { export: requested, token } = await requestCustomerExport(ed, { tenantId, requestedBy: cliActor() });
        const ready = await buildCustomerExport(ed, { exportId: requested.id });
        if (opts.out) {
          const opened = await openCustomerExport(ed, { exportId: ready.id, token, tenantId });
          await pipeline(opened.stream, createWriteStream(opts.out, { mode: 0o600 }));
          await opened.delivered();
        }
        if (opts.json) return printJson({ export: describeExport(ready), savedTo: opts.out ?? null });
        process.stdout.write(`ready   ${ready.id}  ${tenantId}  ${humanBytes(ready.fileSize ?? 0)} encrypted at ${ready.localPath}\n`);
        process.stdout.write(`        kept until ${ready.expiresAt?.toISOString()}${opts.out ? `; the ZIP is in ${opts.out}` : ""}\n`);
      } finally {
        await deps.close();
      }
    });
  exp
    .command("sweep")
    .description("remove exports past their 24 hours (backup-svc does this every 10 minutes)")
    .option("--json", "print the ids removed as JSON")
    .action(async (opts: { json?: boolean }) => {
      const { deps, exportDeps: ed } = await exportDeps();
      try {
        const expired = await expireCustomerExports(ed);
        if (opts.json) return printJson({ expired });
        process.stdout.write(`${expired.length} expired export(s) removed\n`);
      } finally {
        await deps.close();
      }
    });
}
