// Measures generation speed: MB of COPY text per second.
//   pnpm --filter @hesaab/platform exec tsx bench/generate.ts [--tenants N] [--scale S] [--large-scale L] [--skip-fk] [--keep]
// Creates a scratch database on PLATFORM_BENCH_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres),
// and drops it afterwards unless --keep.
import { parseArgs } from "node:util";
import pg from "pg";
import { generatePlatform, tableChecksums } from "../src/index";

const { values } = parseArgs({
  options: {
    tenants: { type: "string", default: "20" },
    scale: { type: "string", default: "1" },
    "large-scale": { type: "string", default: "1" },
    seed: { type: "string", default: "1" },
    "skip-fk": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    checksums: { type: "boolean", default: false },
  },
});
const adminUrl = process.env.PLATFORM_BENCH_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const name = `platform_bench_${Date.now().toString(36)}`;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`CREATE DATABASE "${name}"`);
const url = new URL(adminUrl);
url.pathname = `/${name}`;
try {
  const result = await generatePlatform({
    url: url.toString(),
    tenants: Number(values.tenants),
    scale: Number(values.scale),
    largeScale: Number(values["large-scale"]),
    seed: Number(values.seed),
    skipForeignKeyChecks: values["skip-fk"],
    onProgress: (p) => process.stderr.write(`\r${p.tenantsDone}/${p.tenantsTotal} tenants, ${(p.bytes / 1e6).toFixed(0)} MB ${p.table}      `),
  });
  const mb = result.bytes / 1e6;
  const largest = result.tenants[0]!;
  process.stderr.write("\n");
  console.log(
    JSON.stringify(
      {
        tenants: result.tenants.length,
        scale: result.scale,
        largeScale: result.largeScale,
        skipForeignKeyChecks: values["skip-fk"],
        copyMb: Number(mb.toFixed(1)),
        seconds: result.durationMs / 1000,
        mbPerSecond: Number((mb / (result.durationMs / 1000)).toFixed(1)),
        largestTenant: { id: largest.id, mb: Number((largest.bytes / 1e6).toFixed(1)), invoices: largest.rows.invoices },
        rows: result.rows,
      },
      null,
      2,
    ),
  );
  if (values.checksums) {
    const t0 = performance.now();
    await tableChecksums({ url: url.toString(), tenantId: largest.id });
    console.log(`checksums of the largest tenant: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
} finally {
  if (!values.keep) await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  else console.log(`kept database ${name}`);
  await admin.end();
}
