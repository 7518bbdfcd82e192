// A real primary and a real streaming standby of it, started by a test: initdb, pg_basebackup -R,
// each on a free port of its own, run as the postgres OS user when the test runs as root.
import { execFile } from "node:child_process";
import { appendFile, chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { readdirSync } from "node:fs";
import type pg from "pg";
import { onDatabase } from "@hesaab/testkit";

const run = promisify(execFile);

/** The newest PostgreSQL server binaries installed (Debian's layout), or those on PATH. */
function pgBin(name: string): string {
  const root = "/usr/lib/postgresql";
  try {
    const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(root, versions[0], "bin", name);
  } catch {
    // not Debian's layout
  }
  return name;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Runs a PostgreSQL binary as the postgres user when we are root (the server refuses root). */
async function asPostgres(bin: string, args: string[]): Promise<void> {
  const root = process.getuid?.() === 0;
  await run(root ? "runuser" : pgBin(bin), root ? ["-u", "postgres", "--", pgBin(bin), ...args] : args, { maxBuffer: 8 << 20 });
}

export interface ReplicaPair {
  primaryUrl: string;
  standbyUrl: string;
  /** Resolves once the standby has replayed everything the primary has written so far. */
  caughtUp(): Promise<void>;
  /** Sets a standby parameter and reloads it. */
  configureStandby(settings: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

export async function startReplicaPair(): Promise<ReplicaPair> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "hesaab-replica-"));
  await chmod(dir, 0o777);
  const primary = path.join(dir, "primary");
  const standby = path.join(dir, "standby");
  const [primaryPort, standbyPort] = [await freePort(), await freePort()];
  const settings = (port: number) =>
    `\nport = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\nfsync = off\nshared_buffers = 32MB\nmax_wal_senders = 4\nwal_level = replica\n`;
  const started: string[] = [];
  const stop = async () => {
    for (const d of started.reverse()) await asPostgres("pg_ctl", ["-D", d, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // initdb's default pg_hba.conf trusts local and loopback connections, replication ones included
    await asPostgres("initdb", ["-D", primary, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
    await appendFile(path.join(primary, "postgresql.conf"), settings(primaryPort));
    await asPostgres("pg_ctl", ["-D", primary, "-l", path.join(dir, "primary.log"), "-w", "start"]);
    started.push(primary);
    await asPostgres("pg_basebackup", [
      "-h",
      "127.0.0.1",
      "-p",
      String(primaryPort),
      "-U",
      "postgres",
      "-D",
      standby,
      "-R",
      "-X",
      "stream",
      "-c",
      "fast",
      "--no-sync",
    ]);
    await asPostgres("pg_ctl", ["-D", standby, "-l", path.join(dir, "standby.log"), "-o", `-p ${standbyPort}`, "-w", "start"]);
    started.push(standby);
  } catch (err) {
    await stop();
    throw err;
  }
  const primaryUrl = `postgres://postgres@127.0.0.1:${primaryPort}/postgres`;
  const standbyUrl = `postgres://postgres@127.0.0.1:${standbyPort}/postgres`;
  const query = async <T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> => (await onDatabase(url, (c) => c.query<T>(sql))).rows;
  return {
    primaryUrl,
    standbyUrl,
    async caughtUp() {
      const [{ lsn }] = (await query<{ lsn: string }>(primaryUrl, "SELECT pg_current_wal_lsn()::text AS lsn")) as [{ lsn: string }];
      for (;;) {
        const [{ done }] = (await query<{ done: boolean }>(standbyUrl, `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn AS done`)) as [{ done: boolean }];
        if (done) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async configureStandby(s) {
      await appendFile(
        path.join(standby, "postgresql.conf"),
        Object.entries(s)
          .map(([k, v]) => `\n${k} = ${v}\n`)
          .join(""),
      );
      await query(standbyUrl, "SELECT pg_reload_conf()");
    },
    stop,
  };
}
