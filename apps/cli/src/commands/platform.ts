// `hesaab platform …`: the sample HesaabPlus-like platform used by tests, benchmarks and the demo.
import { type Command, InvalidArgumentError } from "commander";
import { ConfigError, redactUrl } from "@hesaab/config";
import { createPlatformSchema, generatePlatform, platformSchemaSql, tableChecksums } from "@hesaab/platform";
import { platformEnv } from "../env";
import { positiveInt, positiveNumber } from "../options";
import { printJson, progressDone, progressLine } from "../output";

function seedNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidArgumentError("expected an integer from 0 to 4294967295");
  return n;
}

function databaseUrl(option: string | undefined): string {
  const url = option ?? platformEnv().PLATFORM_DATABASE_URL;
  if (!url) {
    throw new ConfigError({
      code: "config_invalid",
      message: "no platform database given",
      hint: "Pass --database-url, or set PLATFORM_DATABASE_URL (`pnpm hesaab stack up` writes one to .stack/env)",
    });
  }
  return url;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

interface GenerateFlags {
  tenants: number;
  scale: number;
  seed: number;
  largeScale: number;
  concurrency: number;
  skipFkChecks?: boolean;
  databaseUrl?: string;
  schema: string;
  reset?: boolean;
  json?: boolean;
}

interface ChecksumFlags {
  tenant?: string;
  table?: string[];
  databaseUrl?: string;
  schema: string;
  json?: boolean;
}

export function registerPlatform(program: Command): void {
  const platform = program.command("platform").description("the sample HesaabPlus-like platform: schema, deterministic data, checksums");

  platform
    .command("generate")
    .description("create the sample schema and fill it with deterministic tenants (COPY, fast)")
    .option("--tenants <n>", "number of tenants", positiveInt, 20)
    .option("--scale <s>", "row-count multiplier: tenant #1 has about 500·s invoices, tenant r about 500·s/r^0.9", positiveNumber, 1)
    .option("--seed <k>", "seed: the same seed gives the same platform", seedNumber, 1)
    .option("--large-scale <l>", "extra multiplier for tenant #1 only (≈ 1.5 MB of COPY text per unit at scale 1)", positiveNumber, 1)
    .option("--concurrency <c>", "connections loading in parallel", positiveInt, 2)
    .option("--skip-fk-checks", "load with session_replication_role=replica (superuser; faster for huge tenants)")
    .option("--database-url <url>", "target database (default: PLATFORM_DATABASE_URL)")
    .option("--schema <name>", "PostgreSQL schema for the sample tables", "public")
    .option("--reset", "drop and recreate the sample tables first (only them)")
    .option("--json", "print the result as JSON")
    .action(async (flags: GenerateFlags) => {
      const url = databaseUrl(flags.databaseUrl);
      const result = await generatePlatform({
        url,
        schema: flags.schema,
        tenants: flags.tenants,
        scale: flags.scale,
        seed: flags.seed,
        largeScale: flags.largeScale,
        concurrency: flags.concurrency,
        skipForeignKeyChecks: flags.skipFkChecks ?? false,
        reset: flags.reset ?? false,
        onProgress: (p) => progressLine(`${p.tenantsDone}/${p.tenantsTotal} tenants, ${mb(p.bytes)}, ${p.rows} rows${p.table ? ` (${p.table})` : ""}`),
      });
      progressDone();
      if (flags.json) {
        printJson({ database: redactUrl(url), ...result });
        return;
      }
      const seconds = result.durationMs / 1000;
      const largest = result.tenants[0]!;
      process.stdout.write(
        `generated ${result.tenants.length} tenants into ${redactUrl(url)} (schema ${flags.schema}), seed ${result.seed}\n` +
          `${mb(result.bytes)} of COPY text in ${seconds.toFixed(1)} s (${(result.bytes / 1e6 / seconds).toFixed(1)} MB/s)\n` +
          `largest tenant: ${largest.id} ${largest.slug} (${mb(largest.bytes)}, ${largest.rows.invoices} invoices)\n\n`,
      );
      const width = Math.max(...Object.keys(result.rows).map((t) => t.length));
      for (const [table, n] of Object.entries(result.rows)) process.stdout.write(`${table.padEnd(width)}  ${String(n).padStart(10)}\n`);
    });

  platform
    .command("checksums")
    .description("order-independent per-table checksums of one tenant's rows, or of whole tables")
    .option("--tenant <id>", "only this tenant's rows")
    .option("--table <name...>", "only these tables")
    .option("--database-url <url>", "database (default: PLATFORM_DATABASE_URL)")
    .option("--schema <name>", "PostgreSQL schema of the sample tables", "public")
    .option("--json", "print the checksums as JSON")
    .action(async (flags: ChecksumFlags) => {
      const sums = await tableChecksums({
        url: databaseUrl(flags.databaseUrl),
        schema: flags.schema,
        ...(flags.tenant ? { tenantId: flags.tenant } : {}),
        ...(flags.table ? { tables: flags.table } : {}),
      });
      if (flags.json) {
        printJson(sums);
        return;
      }
      const width = Math.max(...Object.keys(sums).map((t) => t.length));
      for (const [table, { rows, md5 }] of Object.entries(sums)) {
        process.stdout.write(`${table.padEnd(width)}  ${String(rows).padStart(10)}  ${md5}\n`);
      }
    });

  platform
    .command("schema")
    .description("apply the sample schema (idempotent), or print its SQL with --print")
    .option("--print", "print the SQL instead of applying it")
    .option("--database-url <url>", "database (default: PLATFORM_DATABASE_URL)")
    .option("--schema <name>", "PostgreSQL schema for the sample tables", "public")
    .action(async (flags: { print?: boolean; databaseUrl?: string; schema: string }) => {
      if (flags.print) {
        process.stdout.write(platformSchemaSql(flags.schema));
        return;
      }
      const url = databaseUrl(flags.databaseUrl);
      await createPlatformSchema({ url, schema: flags.schema });
      process.stdout.write(`sample schema applied to ${redactUrl(url)} (schema ${flags.schema})\n`);
    });
}
