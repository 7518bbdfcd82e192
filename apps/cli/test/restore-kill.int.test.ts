// `hesaab restore tenant` SIGKILLed in the middle of its deletes (issue 19): the server ends the dead
// client's statement on its own (client_connection_check_interval), the tenant is as it was, the
// next restore does not wait for anything, and the killed operation's record says abandoned.
import { type ChildProcess, spawn } from "node:child_process";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { tableChecksums } from "@hesaab/platform";
import { cliDir, cliPlatform, runCli, type CliPlatform } from "./run-cli";

let fixture: CliPlatform;
let tenantId: string;
let child: ChildProcess | undefined;
const clients: pg.Client[] = [];

beforeAll(async () => {
  fixture = await cliPlatform("cli_restore_kill", { tenants: 3, scale: 0.1, migrated: true });
  tenantId = fixture.platform.tenants.find((t) => t.status === "active")!.id;
}, 180_000);

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const c of clients) await c.end().catch(() => undefined);
  await fixture?.drop();
});

async function connect(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: fixture.database.url, application_name: "restore-kill-test" });
  await c.connect();
  clients.push(c);
  return c;
}

/** Polls `check` every 50 ms until it returns a value, or fails after `ms` (a generous deadline, not a measured threshold). */
async function until<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

it("a restore killed mid-delete leaves no backend, the tenant unchanged, the next restore unblocked, the record abandoned", { timeout: 180_000 }, async () => {
  const backup = await runCli(["backup", "tenant", tenantId, "--json"], fixture.env);
  expect(backup.code, backup.stderr).toBe(0);
  const db = await connect();
  const { rows: records } = await db.query<{ id: string }>(
    "SELECT id FROM backup.backup_records WHERE tenant_id = $1 AND status IN ('completed', 'degraded') ORDER BY created_at DESC LIMIT 1",
    [tenantId],
  );
  const backupId = records[0]!.id;
  // the tenant changes after the backup, so a half-done restore would show
  await db.query("UPDATE invoices SET title = 'after the backup' WHERE tenant_id = $1", [tenantId]);
  const before = await tableChecksums({ url: fixture.database.url, tenantId });

  // Another session holds the tenant's root row: the restore deletes every child table's rows, then
  // waits on its DELETE of that row, inside its transaction, mid-delete, for as long as we like.
  const locker = await connect();
  await locker.query("BEGIN");
  await locker.query("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE", [tenantId]);
  const ours = [
    (await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid,
    (await locker.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid,
  ];

  child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "restore", "tenant", tenantId, "--backup", backupId, "--json"], {
    cwd: cliDir,
    env: { PATH: process.env.PATH ?? "", HESAAB_NO_STACK_ENV: "1", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...fixture.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child!.once("exit", (_code, signal) => resolve(signal)));
  let gone = false;
  void exited.then(() => (gone = true));

  const deleting = await until("the restore's DELETE of the tenant row", 120_000, async () => {
    if (gone) throw new Error(`the restore ended before its delete: ${stderr}`);
    const { rows } = await db.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND wait_event_type = 'Lock' AND query LIKE 'DELETE FROM%tenants%'",
    );
    return rows[0]?.pid;
  });
  const { rows: theirs } = await db.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> ALL($1::int[])",
    [ours],
  );
  expect(theirs.map((r) => r.pid)).toContain(deleting);
  const { rows: ops } = await db.query<{ id: string; status: string }>("SELECT id, status FROM backup.restore_operations");
  expect(ops).toHaveLength(1);
  expect(["snapshotting", "restoring"]).toContain(ops[0]!.status);

  child.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");

  // the backend waiting on the lock learns of its dead client from the periodic check, not from us
  await until("every backend of the killed restore to end", 30_000, async () => {
    const { rows } = await db.query("SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1::int[])", [theirs.map((r) => r.pid)]);
    return rows.length === 0 ? true : undefined;
  });
  await locker.query("ROLLBACK");
  expect(await tableChecksums({ url: fixture.database.url, tenantId })).toEqual(before);

  const again = await runCli(["restore", "tenant", tenantId, "--backup", backupId, "--json"], fixture.env);
  expect(again.code, again.stderr).toBe(0);
  const report = JSON.parse(again.stdout) as { operationId: string; status: string };
  expect(report.status).toBe("completed");
  expect(await tableChecksums({ url: fixture.database.url, tenantId })).not.toEqual(before);
  const { rows: after } = await db.query<{ id: string; status: string; error_message: string | null }>(
    "SELECT id, status, error_message FROM backup.restore_operations WHERE id = $1",
    [ops[0]!.id],
  );
  expect(after[0]!.status).toBe("failed");
  expect(after[0]!.error_message).toMatch(/^abandoned/);
});
