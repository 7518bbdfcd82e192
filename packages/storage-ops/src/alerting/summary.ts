import type { Catalog } from "@hesaab/db";

/** The daily summary email: the last 24 hours' backups by type and outcome, alerts raised and resolved, and what is still open. */
export async function dailySummary(catalog: Catalog, now: Date): Promise<{ subject: string; text: string }> {
  const since = new Date(now.getTime() - 86_400_000);
  const q = async <T>(text: string, params: unknown[]) => (await catalog.pool.query(text, params)).rows as T[];
  const backups = await q<{ backup_type: string; status: string; n: string }>(
    `select backup_type::text, status::text, count(*) as n from backup.backup_records where created_at > $1 and created_at <= $2 group by 1, 2 order by 1, 2`,
    [since, now],
  );
  const [counts] = await q<{ raised: string; resolved: string }>(
    `select count(*) filter (where raised_at > $1 and raised_at <= $2) as raised, count(*) filter (where resolved_at > $1 and resolved_at <= $2) as resolved from backup.alerts`,
    [since, now],
  );
  const open = await q<{ severity: string; code: string; message: string; occurrences: number }>(
    `select severity, code, message, occurrences from backup.alerts where resolved_at is null order by raised_at desc limit 20`,
    [],
  );
  const failed = backups.filter((b) => b.status === "failed").reduce((s, b) => s + Number(b.n), 0);
  const lines = [
    `HesaabPlus Backup, the 24 hours to ${now.toISOString()}`,
    "",
    "Backups:",
    ...(backups.length ? backups.map((b) => `  ${b.backup_type} ${b.status}: ${b.n}`) : ["  none"]),
    "",
    `Alerts raised: ${counts?.raised ?? 0}, resolved: ${counts?.resolved ?? 0}, open now: ${open.length}${open.length === 20 ? "+" : ""}`,
    ...open.map((a) => `  [${a.severity}] ${a.code} (×${a.occurrences}): ${a.message}`),
  ];
  const subject = `[HesaabPlus Backup] daily summary: ${failed} failed backup(s), ${open.length} open alert(s)`;
  return { subject, text: lines.join("\n") };
}
