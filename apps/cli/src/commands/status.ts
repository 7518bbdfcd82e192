// `hesaab status`: the whole system at a glance. Each service's /readyz (its health port; the
// gateway's own port) and, from the catalog, the last 24 hours of backups and the latest disaster
// backup. Exit 1 when a service is not ready or unreachable, or the catalog cannot be read.
import type { Command } from "commander";
import { describeError } from "@hesaab/config";
import { openPool } from "@hesaab/db";
import { statusEnv } from "../env";
import { humanBytes, printJson } from "../output";

/** One probe of a health port must not hang the command: an unreachable service is an answer. */
const PROBE_TIMEOUT_MS = 5_000;

interface ServiceStatus {
  name: string;
  url: string;
  /** ready | degraded | not_ready as the service says it; unreachable when it does not answer. */
  status: string;
  checks?: Record<string, { ok: boolean; error?: { code: string; message: string } }>;
  error?: string;
}

interface LastNight {
  since: string;
  /** Backups created in the last 24 hours, by type and status. */
  backups: { type: string; status: string; count: number }[];
  latestDisasterBackup: { id: string; status: string; createdAt: string; completedAt: string | null; size: number } | null;
}

export interface SystemStatus {
  ok: boolean;
  services: ServiceStatus[];
  catalog: LastNight | { error: string };
}

async function probe(service: { name: string; url: string }): Promise<ServiceStatus> {
  try {
    const res = await fetch(`${service.url}/readyz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    const body = (await res.json()) as { status?: string; checks?: ServiceStatus["checks"] };
    return { ...service, status: body.status ?? `http ${res.status}`, ...(body.checks ? { checks: body.checks } : {}) };
  } catch (err) {
    return { ...service, status: "unreachable", error: describeError(err).message };
  }
}

async function lastNight(url: string | undefined, connectTimeoutMs: number): Promise<SystemStatus["catalog"]> {
  if (!url) return { error: "no catalog configured: set BACKUP_DATABASE_URL (or PLATFORM_DATABASE_URL)" };
  const pool = openPool({ url, max: 1, name: "hesaab-status", connectTimeoutMs });
  try {
    const since = new Date(Date.now() - 24 * 3_600_000);
    const { rows: counts } = await pool.query<{ type: string; status: string; count: number }>(
      `select backup_type::text as type, status::text as status, count(*)::int as count
         from backup.backup_records where created_at >= $1 and backup_type in ('tenant', 'disaster')
        group by 1, 2 order by 1, 2`,
      [since],
    );
    const { rows: latest } = await pool.query<{ id: string; status: string; created_at: Date; completed_at: Date | null; file_size: string }>(
      `select id, status::text as status, created_at, completed_at, file_size from backup.backup_records
        where backup_type = 'disaster' order by created_at desc limit 1`,
    );
    const d = latest[0];
    return {
      since: since.toISOString(),
      backups: counts,
      latestDisasterBackup: d
        ? { id: d.id, status: d.status, createdAt: d.created_at.toISOString(), completedAt: d.completed_at?.toISOString() ?? null, size: Number(d.file_size) }
        : null,
    };
  } catch (err) {
    return { error: describeError(err).message };
  } finally {
    await pool.end();
  }
}

export async function systemStatus(): Promise<SystemStatus> {
  const env = statusEnv();
  const [services, catalog] = await Promise.all([Promise.all(env.services.map(probe)), lastNight(env.catalogUrl, env.connectTimeoutMs)]);
  const ok = services.every((s) => s.status === "ready" || s.status === "degraded") && !("error" in catalog);
  return { ok, services, catalog };
}

function printStatus(s: SystemStatus): void {
  const out = process.stdout;
  for (const svc of s.services) {
    const down = Object.entries(svc.checks ?? {})
      .filter(([, c]) => !c.ok)
      .map(([name]) => name);
    out.write(
      `${svc.name.padEnd(12)} ${svc.status.padEnd(12)} ${svc.url}${down.length ? `  (down: ${down.join(", ")})` : ""}${svc.error ? `  (${svc.error})` : ""}\n`,
    );
  }
  out.write("\n");
  if ("error" in s.catalog) {
    out.write(`catalog: ${s.catalog.error}\n`);
    return;
  }
  out.write(`backups since ${s.catalog.since}:\n`);
  if (s.catalog.backups.length === 0) out.write("  none\n");
  for (const b of s.catalog.backups) out.write(`  ${b.type.padEnd(9)} ${b.status.padEnd(10)} ${b.count}\n`);
  const d = s.catalog.latestDisasterBackup;
  out.write(d ? `latest disaster backup: ${d.id} ${d.status} at ${d.createdAt} (${humanBytes(d.size)})\n` : "latest disaster backup: none\n");
}

export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("each service's readiness (/readyz) and the last 24 hours of backups from the catalog")
    .option("--json", "print the status as JSON")
    .action(async (opts: { json?: boolean }) => {
      const status = await systemStatus();
      if (opts.json) printJson(status);
      else printStatus(status);
      if (!status.ok) process.exitCode = 1;
    });
}
