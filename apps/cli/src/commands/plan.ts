// `hesaab plan`: what a tenant backup holds, discovered from the platform database's catalog.
import { type Command } from "commander";
import pg from "pg";
import { ConfigError, redactUrl } from "@hesaab/config";
import { countTenantRows, discoverTenantPlan, excludedColumns, formatExcludedColumns, formatPlan } from "@hesaab/tenant-data";
import { customerExportEnv, platformEnv } from "../env";
import { printJson } from "../output";

interface PlanFlags {
  tenant?: string;
  json?: boolean;
  databaseUrl?: string;
  schema?: string[];
  tenantColumn: string;
  rootTable: string;
  include?: string[];
  exclude?: string[];
  customer?: boolean;
}

export function registerPlan(program: Command): void {
  program
    .command("plan")
    .description("the tenant tables a backup holds (from the catalog), their load and delete order, and with --tenant its row counts")
    .option("--tenant <id>", "also count this tenant's rows per table")
    .option("--json", "print the plan as JSON")
    .option("--database-url <url>", "platform database (default: PLATFORM_DATABASE_URL)")
    .option("--schema <name...>", "schemas to look in (default: public)")
    .option("--tenant-column <name>", "the column marking a tenant's rows", "tenant_id")
    .option("--root-table <name>", "the tenants table (its id is the tenant id)", "tenants")
    .option("--include <table...>", "only these tables (name, schema.name, * wildcards)")
    .option("--exclude <table...>", "never these tables")
    .option("--customer", "also show, per table, the columns a customer export leaves out (credentials; CUSTOMER_EXPORT_EXCLUDE_COLUMNS)")
    .action(async (flags: PlanFlags) => {
      const url = flags.databaseUrl ?? platformEnv().PLATFORM_DATABASE_URL;
      if (!url) {
        throw new ConfigError({
          code: "config_invalid",
          message: "no platform database given",
          hint: "Pass --database-url, or set PLATFORM_DATABASE_URL (`pnpm hesaab stack up` writes one to .stack/env)",
        });
      }
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const plan = await discoverTenantPlan({
          client,
          tenantColumn: flags.tenantColumn,
          rootTable: flags.rootTable,
          ...(flags.schema ? { schemas: flags.schema } : {}),
          ...(flags.include ? { include: flags.include } : {}),
          ...(flags.exclude ? { exclude: flags.exclude } : {}),
        });
        const rows = flags.tenant ? await countTenantRows({ client, plan, tenantId: flags.tenant }) : undefined;
        const exclusions = flags.customer ? customerExportEnv().CUSTOMER_EXPORT_EXCLUDE_COLUMNS : undefined;
        const customer = exclusions ? { ...exclusions, excludedColumns: excludedColumns(plan, exclusions) } : undefined;
        if (flags.json) {
          printJson({
            database: redactUrl(url),
            ...(flags.tenant ? { tenantId: flags.tenant, rows } : {}),
            plan,
            ...(customer ? { customerExport: customer } : {}),
          });
          return;
        }
        process.stdout.write(`${formatPlan(plan, rows)}\n`);
        if (customer) process.stdout.write(`${formatExcludedColumns(customer.excludedColumns, customer)}\n`);
      } finally {
        await client.end().catch(() => undefined);
      }
    });
}
