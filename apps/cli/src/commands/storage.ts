// Storage operations, in-process (no service needed): `hesaab storage stats|reconcile|replicate|sample`,
// `hesaab verify`, `hesaab retention apply`, `hesaab catalog rebuild`. The work is in @hesaab/storage-ops.
import path from "node:path";
import { type Command, Option } from "commander";
import { catalogState, migrate, openPool, requireMigratedCatalog } from "@hesaab/db";
import { redactUrl } from "@hesaab/config";
import { isPermanent, type StorageBackend } from "@hesaab/storage";
import {
  applyRetention,
  deepVerifySample,
  openStorageOps,
  platformTenants,
  rebuildCatalog,
  reconcile,
  replicateArtifact,
  retentionRulesFromEnv,
  storageAnalytics,
  takeStorageSample,
  verifyAll,
  verifyBackup,
  type OpenedStorageOps,
  type ProviderReplica,
  type VerifyBackupResult,
} from "@hesaab/storage-ops";
import { cliActor, storageOpsEnv } from "../env";
import { nonNegativeInt, percent, usageError } from "../options";
import { humanBytes, printJson } from "../output";

type StorageEnv = ReturnType<typeof storageOpsEnv>;

async function withOps<T>(fn: (ops: OpenedStorageOps, env: StorageEnv) => Promise<T>, { migrateFirst = false }: { migrateFirst?: boolean } = {}): Promise<T> {
  const env = storageOpsEnv();
  const ops = openStorageOps({ env, actor: cliActor(), keyPrefix: env.STORAGE_KEY_PREFIX });
  try {
    const url = (env.BACKUP_DATABASE_URL ?? env.PLATFORM_DATABASE_URL)!;
    // a rebuild builds the catalog, so it migrates it; every other command refuses an unmigrated one
    if (migrateFirst) await migrate({ url });
    else await requireMigratedCatalog({ pool: ops.catalog.pool, url });
    return await fn(ops, env);
  } finally {
    await ops.close();
  }
}

/**
 * Touches every provider once (a HEAD of a key that need not exist): a missing bucket or refused
 * credentials stop the command with the provider's own error (naming it and the bucket); a provider
 * that is only unreachable is reported and the command goes on with what it can reach.
 */
async function preflight(backends: StorageBackend[]): Promise<void> {
  for (const backend of backends) {
    try {
      await backend.head("tenants");
    } catch (err) {
      if (isPermanent(err)) throw err;
      process.stderr.write(`warning: ${backend.name} is unreachable now (${err instanceof Error ? err.message : String(err)}); going on without it\n`);
    }
  }
}

function providerLine(p: ProviderReplica): string {
  const state = p.state === "ok" ? "ok" : p.state === "healed" ? `HEALED from ${p.copiedFrom ?? "?"} (was ${p.found})` : p.state.toUpperCase();
  return `${p.provider}: ${state}${p.detail && p.state !== "ok" ? `  ${p.detail}` : ""}`;
}

function printVerify(results: VerifyBackupResult[]): void {
  for (const r of results) {
    const head = `${r.backupId}  ${r.type}${r.tenantId ? ` ${r.tenantId}` : ""}`;
    if (r.keyless.skipped) {
      process.stdout.write(`skipped  ${head}  (${r.keyless.skipped})\n`);
      continue;
    }
    const bad = r.keyless.lost || r.keyless.degraded.length > 0 || r.deep?.providers.some((p) => !p.ok);
    process.stdout.write(`${bad ? "FAILED " : "ok     "}  ${head}  ${r.keyless.status}  ${r.keyless.providers.map(providerLine).join("; ")}\n`);
    if (r.deep?.skipped) process.stdout.write(`         deep: skipped: ${r.deep.skipped}\n`);
    for (const d of r.deep?.providers ?? [])
      process.stdout.write(`         deep ${d.provider}: ${d.ok ? `ok (${humanBytes(d.plaintextBytes ?? 0)} decrypted)` : `FAILED ${d.detail ?? ""}`}\n`);
  }
}

const failedVerification = (r: VerifyBackupResult) => r.keyless.lost || r.keyless.degraded.length > 0 || Boolean(r.deep?.providers.some((p) => !p.ok));

export function registerStorage(program: Command): void {
  const storage = program.command("storage").description("the providers' copies: usage and cost, reconciliation, replication, samples");
  registerStorageStats(storage);
  registerStorageReconcile(storage);
  registerStorageReplicate(storage);
  registerStorageSample(storage);
  registerVerify(program);
  registerRetention(program);
  registerCatalog(program);
}

/** `storage stats` */
function registerStorageStats(storage: Command): void {
  storage
    .command("stats")
    .description("bytes and objects per provider and tenant, growth, monthly cost estimate and projection")
    .option("--no-listing", "use the catalog only (do not list the buckets)")
    .option("--json", "print the analytics as JSON")
    .action(async (opts: { listing: boolean; json?: boolean }) => {
      await withOps(async (ops, env) => {
        if (opts.listing) await preflight(ops.backends);
        const stats = await storageAnalytics({
          catalog: ops.catalog,
          ...(opts.listing ? { backends: ops.backends } : {}),
          ...(env.STORAGE_PRICES ? { prices: env.STORAGE_PRICES } : {}),
        });
        if (opts.json) return printJson(stats);
        const out = process.stdout;
        out.write(`storage at ${stats.at} (prices ${stats.prices.currency}, checked ${stats.prices.checked}; verify before relying on them)\n`);
        for (const name of [...new Set([...stats.providers.map((p) => p.provider), ...(stats.listing ?? []).map((l) => l.provider)])].sort()) {
          const p = stats.providers.find((x) => x.provider === name) ?? { bytes: 0, backups: 0, objects: 0 };
          const listed = stats.listing?.find((l) => l.provider === name);
          out.write(
            `  ${name}: ${humanBytes(p.bytes)} in ${p.backups} backups (${p.objects} objects)${listed ? `; bucket listing: ${humanBytes(listed.bytes)}, ${listed.objects} objects` : ""}\n`,
          );
        }
        for (const t of stats.trend)
          out.write(`  ${t.provider} trend: ${humanBytes(Math.abs(t.bytesPerDay))}/day ${t.bytesPerDay < 0 ? "shrinking" : "growing"} (from ${t.basis})\n`);
        for (const [p, c] of Object.entries(stats.cost.monthly))
          out.write(
            `  ${p} monthly: $${c.total.toFixed(2)} (storage $${c.storage.toFixed(2)}, egress $${c.egress.toFixed(2)}, operations $${c.operations.toFixed(2)})\n`,
          );
        out.write(`  total monthly: $${stats.cost.monthlyTotal.toFixed(2)}\n`);
        for (const p of stats.projection)
          out.write(
            `  in ${p.months} months: $${p.monthlyTotal.toFixed(2)}/month (${Object.entries(p.providers)
              .map(([n, v]) => `${n} ${humanBytes(v.bytes)}`)
              .join(", ")})\n`,
          );
        const top = [...stats.tenants].sort((a, b) => b.bytes - a.bytes).slice(0, 10);
        if (top.length) out.write(`  largest tenants: ${top.map((t) => `${t.tenantId}@${t.provider} ${humanBytes(t.bytes)}`).join(", ")}\n`);
      });
    });
}

/** `storage reconcile` */
function registerStorageReconcile(storage: Command): void {
  storage
    .command("reconcile")
    .description("compare both buckets with the catalog: missing, extra and corrupt objects; heal what the catalog owns (extras are only reported)")
    .option("--no-heal", "report only")
    .option("--json", "print the report as JSON")
    .action(async (opts: { heal: boolean; json?: boolean }) => {
      await withOps(async (ops) => {
        await preflight(ops.backends);
        const report = await reconcile({ ...ops, heal: opts.heal });
        if (opts.json) return printJson(report);
        const out = process.stdout;
        out.write(
          `checked ${report.records} backups against ${Object.entries(report.listed)
            .map(([p, l]) => `${p} (${l.artifacts} artifacts, ${l.objects} objects)`)
            .join(" and ")}\n`,
        );
        for (const [label, list] of [
          ["missing", report.missing],
          ["degraded", report.degraded],
          ["corrupt", report.corrupt],
          ["extra", report.extra],
        ] as const) {
          out.write(`${label}: ${list.length}\n`);
          for (const i of list) out.write(`  ${i.provider} ${i.key}  ${i.reason}\n`);
        }
        out.write(`healed: ${report.healed.map((x) => `${x.backupId} (${x.providers.join(",")})`).join(", ") || "none"}\n`);
        if (report.unhealed.length)
          out.write(`NOT HEALED: ${report.unhealed.map((x) => `${x.backupId}${x.pending ? " (provider unreachable)" : ""}`).join(", ")}\n`);
        for (const u of report.unreachable) out.write(`UNREACHABLE ${u.provider}: ${u.error}\n`);
        if (report.unhealed.length) process.exitCode = 2;
      });
    });
}

/** `storage replicate` */
function registerStorageReplicate(storage: Command): void {
  storage
    .command("replicate")
    .description("make every provider hold a byte-identical copy of these backups (and their sidecars) now")
    .argument("<backupIds...>", "backup ids")
    .option("--json", "print the results as JSON")
    .action(async (ids: string[], opts: { json?: boolean }) => {
      await withOps(async (ops) => {
        await preflight(ops.backends);
        const results = [];
        for (const id of ids) results.push(await replicateArtifact({ ...ops, record: id }));
        if (opts.json) return printJson(results);
        for (const r of results)
          process.stdout.write(`${r.backupId}  ${r.skipped ? `skipped (${r.skipped})` : `${r.status}  ${r.providers.map(providerLine).join("; ")}`}\n`);
        if (results.some((r) => r.degraded.length)) process.exitCode = 2;
      });
    });
}

/** `storage sample` */
function registerStorageSample(storage: Command): void {
  storage
    .command("sample")
    .description("record a usage sample (per provider, type and tenant) for the growth report")
    .option("--json", "print the result as JSON")
    .action(async (opts: { json?: boolean }) => {
      await withOps(async (ops) => {
        const rows = await takeStorageSample({ catalog: ops.catalog });
        if (opts.json) printJson({ rows });
        else process.stdout.write(`sample taken: ${rows} rows\n`);
      });
    });
}

/** `verify` */
function registerVerify(program: Command): void {
  program
    .command("verify")
    .description("verify backups in every provider: keyless (size + SHA-256, healing bad copies) and, with --deep, authenticated decryption")
    .option("--backup <id>", "one backup (default: every good backup; with --deep, the deep-verification sample)")
    .option("--deep", "also decrypt and decompress each provider's copy (needs BACKUP_MASTER_KEYS / DR_MASTER_KEYS)")
    .addOption(new Option("--percent <p>", "with --deep and no --backup: percent of backups to check (default STORAGE_DEEP_VERIFY_PERCENT)").argParser(percent))
    .addOption(new Option("--max-bytes <n>", "with --deep and no --backup: download budget (default STORAGE_DEEP_VERIFY_MAX_BYTES)").argParser(nonNegativeInt))
    .option("--no-heal", "report only, do not replace bad copies")
    .option("--json", "print the results as JSON")
    .action(async (opts: { backup?: string; deep?: boolean; percent?: number; maxBytes?: number; heal: boolean; json?: boolean }) => {
      await withOps(async (ops, env) => {
        await preflight(ops.backends);
        const workDir = path.join(env.HESAAB_DATA_DIR, "verify");
        let results: VerifyBackupResult[];
        let sample: Awaited<ReturnType<typeof deepVerifySample>> | undefined;
        if (opts.backup) {
          results = [await verifyBackup({ ...ops, record: opts.backup, deep: opts.deep ?? false, heal: opts.heal, workDir })];
        } else if (opts.deep) {
          sample = await deepVerifySample({
            ...ops,
            percent: opts.percent ?? env.STORAGE_DEEP_VERIFY_PERCENT,
            maxBytes: opts.maxBytes ?? env.STORAGE_DEEP_VERIFY_MAX_BYTES,
            heal: opts.heal,
            workDir,
          });
          results = sample.results;
        } else {
          results = await verifyAll({ ...ops, heal: opts.heal });
        }
        if (opts.json) printJson(sample ?? results);
        else {
          printVerify(results);
          if (sample) {
            process.stdout.write(`deep sample: ${sample.selected} of ${sample.candidates} backups (${humanBytes(sample.plannedBytes)} to download)\n`);
            for (const s of sample.skippedTypes) process.stdout.write(`skipped ${s.backups} ${s.type} backups: ${s.reason}\n`);
          }
          if (results.length === 0) process.stdout.write("no backups to verify\n");
        }
        if (results.some(failedVerification)) process.exitCode = 2;
      });
    });
}

/** `retention …` */
function registerRetention(program: Command): void {
  const retention = program
    .command("retention")
    .description("retention of tenant (BACKUP_RETENTION_DAYS) and disaster (DISASTER_BACKUP_RETENTION_DAYS) backups");
  retention
    .command("apply")
    .description("delete expired backups from every provider (never the last good backup of a tenant that still exists)")
    .option("--dry-run", "list what would be deleted, change nothing")
    .option("--json", "print the report as JSON")
    .action(async (opts: { dryRun?: boolean; json?: boolean }) => {
      await withOps(async (ops, env) => {
        if (!opts.dryRun) await preflight(ops.backends);
        const activeTenants = await knownTenants(env);
        const report = await applyRetention({ ...ops, rules: retentionRulesFromEnv(env), dryRun: opts.dryRun ?? false, activeTenants });
        if (opts.json) return printJson(report);
        const out = process.stdout;
        out.write(
          `${opts.dryRun ? "would delete" : "deleted"} ${opts.dryRun ? report.expired.length : report.deleted.length} backups (rules: tenant ${report.rules.tenant.days} days, disaster ${report.rules.disaster.days} days)\n`,
        );
        for (const e of report.expired)
          out.write(
            `  ${opts.dryRun ? "would go" : report.deleted.includes(e.backupId) ? "deleted " : "FAILED  "}  ${e.backupId}  ${e.type}${e.tenantId ? ` ${e.tenantId}` : ""}  created ${e.createdAt}  expired ${e.expiresAt}\n`,
          );
        for (const k of report.kept)
          out.write(`  kept      ${k.backupId}  ${k.type}${k.tenantId ? ` ${k.tenantId}` : ""}  expired ${k.expiresAt}  (${k.reasons.join(", ")})\n`);
        for (const f of report.failed) out.write(`  FAILED    ${f.backupId}: ${f.error}\n`);
        if (activeTenants === "all") out.write("  (the platform's tenants are unknown: every tenant's last good backup was kept)\n");
        if (report.failed.length) process.exitCode = 2;
      });
    });
}

/** `catalog …` */
function registerCatalog(program: Command): void {
  const catalog = program.command("catalog").description("the catalog database (an index over the buckets)");
  catalog
    .command("migrate")
    .description("create or update the catalog's tables (schema backup) in BACKUP_DATABASE_URL (or PLATFORM_DATABASE_URL); safe to run again")
    .option("--json", "print the result as JSON")
    .action(async (opts: { json?: boolean }) => {
      const env = storageOpsEnv();
      const url = env.BACKUP_DATABASE_URL ?? env.PLATFORM_DATABASE_URL;
      if (!url) throw usageError("no catalog database: set BACKUP_DATABASE_URL (or PLATFORM_DATABASE_URL)");
      const { applied } = await migrate({ url });
      const pool = openPool({ url, max: 1, name: "hesaab-cli" });
      const state = await catalogState(pool).finally(() => pool.end());
      const result = { catalog: redactUrl(url), applied, migrations: state.applied, pending: state.pending };
      if (opts.json) return printJson(result);
      process.stdout.write(`catalog at ${result.catalog}: ${applied ? `${applied} migration(s) applied` : "up to date"} (${state.applied} in all)\n`);
    });
  catalog
    .command("rebuild")
    .description("rebuild backup records from one bucket's listing and sidecars (into an empty or migrated catalog; existing ids are left alone)")
    .addOption(new Option("--from <provider>", "the bucket to rebuild from").choices(["b2", "r2"]).makeOptionMandatory())
    .option("--dry-run", "show the records, insert nothing")
    .option("--json", "print the report as JSON")
    .action(async (opts: { from: "b2" | "r2"; dryRun?: boolean; json?: boolean }) => {
      await withOps(
        async (ops, env) => {
          await preflight(ops.backends.filter((b) => b.name === opts.from));
          const report = await rebuildCatalog({
            ...ops,
            from: opts.from,
            dryRun: opts.dryRun ?? false,
            retention: { tenantDays: env.BACKUP_RETENTION_DAYS, disasterDays: env.DISASTER_BACKUP_RETENTION_DAYS },
          });
          if (opts.json) return printJson(report);
          const out = process.stdout;
          out.write(
            `${report.records.length} backups found in ${report.from}; ${opts.dryRun ? "dry run, nothing inserted" : `${report.inserted} inserted, ${report.existing.length} already in the catalog`}\n`,
          );
          for (const r of report.records)
            out.write(
              `  ${r.id}  ${r.type}${r.tenantId ? ` ${r.tenantId}` : ""}  ${r.createdAt}  ${humanBytes(r.size)}  ${r.status}  ${Object.entries(r.providers)
                .map(([p, s]) => `${p}:${s}`)
                .join(" ")}\n`,
            );
          for (const o of report.others)
            out.write(
              `  ${o.provider}: ${o.listed ? `listed (${o.onlyThere} backups only there: rebuild --from ${o.provider} adds them)` : `NOT CHECKED (${o.error})`}\n`,
            );
          for (const p of report.problems) out.write(`  problem: ${p.key}: ${p.problem}\n`);
          if (report.strays) out.write(`  ${report.strays} objects outside the layout were ignored\n`);
        },
        { migrateFirst: !opts.dryRun },
      );
    });
}

/** The platform's tenants that still exist, or "all" when the platform cannot be asked (the safe choice). */
async function knownTenants(env: StorageEnv): Promise<string[] | "all"> {
  if (!env.PLATFORM_DATABASE_URL) return "all";
  const pool = openPool({ url: env.PLATFORM_DATABASE_URL, max: 1, name: "hesaab-cli", connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS });
  try {
    return await platformTenants({ pool, discover: { tenantColumn: env.TENANT_COLUMN } });
  } catch {
    return "all";
  } finally {
    await pool.end();
  }
}
