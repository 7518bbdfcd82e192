import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadTenantScript } from "../src/index";
import { type Platform, checksums, exportToBuffer, platform, tempDir } from "./helpers";

let p: Platform;
let dir: Awaited<ReturnType<typeof tempDir>>;
let child: ChildProcess | undefined;

beforeAll(async () => {
  p = await platform("td_kill");
  dir = await tempDir();
});

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await p?.close();
  await dir?.remove();
});

it("a load killed in the middle of a COPY leaves the tenant exactly as it was", async () => {
  const { script } = await exportToBuffer({ pool: p.pool, tenantId: p.tenant });
  const file = dir.file("tenant.sql");
  await writeFile(file, script);
  // the tenant changes after the backup, so a half-done restore would show
  await p.pool.query("UPDATE invoices SET title = 'after the backup' WHERE tenant_id = $1", [p.tenant]);
  await p.pool.query("DELETE FROM invoice_line_taxes t USING invoice_lines l WHERE l.id = t.line_id AND l.tenant_id = $1 AND l.line_no = 1", [p.tenant]);
  const before = await checksums({ pool: p.pool, tenantId: p.tenant });

  child = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(new URL("./fixtures/load-child.ts", import.meta.url)), p.db.url, p.tenant, file, "public.invoice_lines"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child!.once("exit", (_code, signal) => resolve(signal)));
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  // wait until the load is inside its transaction, rows deleted, COPY into invoice_lines running
  let copying = false;
  while (!copying && !exitedEarly) {
    const { rows } = await p.pool.query<{ query: string }>(
      "SELECT query FROM pg_stat_activity WHERE application_name = 'tenant-data-kill-test' AND state = 'active' AND query LIKE 'COPY public.invoice_lines %'",
    );
    copying = rows.length > 0;
    if (!copying) await new Promise((r) => setTimeout(r, 20));
  }
  expect(exitedEarly, stderr).toBe(false);
  child.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");

  // PostgreSQL notices the lost client and rolls the transaction back
  for (let i = 0; i < 200; i++) {
    const { rows } = await p.pool.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'tenant-data-kill-test'");
    if (rows.length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(await checksums({ pool: p.pool, tenantId: p.tenant })).toEqual(before);

  // and nothing is left locked: the same restore now runs to the end
  await loadTenantScript({ pool: p.pool, tenantId: p.tenant, script: [script], mode: "replace" });
  expect(await checksums({ pool: p.pool, tenantId: p.tenant })).not.toEqual(before);
});
