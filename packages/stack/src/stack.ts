import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import pg from "pg";
import { StackError } from "./errors";
import { findRepoRoot, stackDir } from "./paths";
import { s3Answers, tcpAnswers, waitFor } from "./probe";

/**
 * The local stack: PostgreSQL and NATS JetStream (system services, started when installed but
 * stopped) and two s3rver processes standing in for Backblaze B2 and Cloudflare R2.
 * `ensureStack` is idempotent: what already answers is reused, only what is missing is started.
 * It writes `.stack/env`, the environment every service, the CLI and the tests read.
 */

export interface StackOptions {
  pgHost?: string;
  pgPort?: number;
  natsPort?: number;
  b2Port?: number | undefined;
  r2Port?: number | undefined;
  /** Where state lives (s3rver data, pids, logs, keys, env file); default `<repo>/.stack`. */
  dir?: string;
  /** The platform database the demo and services use (created when missing). */
  database?: string;
  log?: (line: string) => void;
}

export interface StackStatus {
  env: Record<string, string>;
  envFile: string;
  /** Per part: "reused" when it already answered, "started" when this call started it. */
  parts: Record<"postgres" | "nats" | "b2" | "r2", "reused" | "started">;
}

const S3_KEY = "S3RVER"; // s3rver's own fixed local credentials; not a secret

function stackError(message: string, hint: string): StackError {
  return new StackError({ code: "stack_unavailable", message, hint });
}

function has(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

type Resolved = Required<Omit<StackOptions, "log">>;

async function ensurePostgres(o: Resolved, log: (l: string) => void) {
  if (await tcpAnswers({ host: o.pgHost, port: o.pgPort })) return "reused" as const;
  if (!has("pg_ctlcluster") || !existsSync("/etc/postgresql")) {
    throw stackError(
      `postgresql does not answer on ${o.pgHost}:${o.pgPort} and is not installed`,
      "Install it with `apt-get install -y postgresql`, then run this again",
    );
  }
  const version = readdirSync("/etc/postgresql")[0];
  log(`starting postgresql ${version}`);
  const r = spawnSync("pg_ctlcluster", ["--skip-systemctl-redirect", String(version), "main", "start"], { encoding: "utf8" });
  if (r.status !== 0 && !/already running/.test(r.stderr)) throw stackError(`could not start postgresql: ${r.stderr.trim()}`, "Check /var/log/postgresql");
  await waitFor(() => tcpAnswers({ host: o.pgHost, port: o.pgPort }), { timeoutMs: 30_000, what: "postgresql" });
  return "started" as const;
}

async function ensureNats(o: Resolved, log: (l: string) => void) {
  if (await tcpAnswers({ host: "127.0.0.1", port: o.natsPort })) return "reused" as const;
  const bin = ["/usr/sbin/nats-server", "/usr/bin/nats-server"].find((p) => existsSync(p));
  if (!bin)
    throw stackError(
      `nats does not answer on 127.0.0.1:${o.natsPort} and nats-server is not installed`,
      "Install it with `apt-get install -y nats-server`, then run this again",
    );
  log("starting nats-server with jetstream");
  const dataDir = "/var/lib/nats-server";
  mkdirSync(dataDir, { recursive: true });
  const r = spawnSync(
    "start-stop-daemon",
    [
      "--start",
      "--oknodo",
      "--background",
      "--exec",
      bin,
      "--",
      "-a",
      "127.0.0.1",
      "-p",
      String(o.natsPort),
      "-js",
      "-sd",
      dataDir,
      "-l",
      "/var/log/nats-server.log",
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw stackError(`could not start nats-server: ${r.stderr.trim()}`, "Check /var/log/nats-server.log");
  await waitFor(() => tcpAnswers({ host: "127.0.0.1", port: o.natsPort }), { timeoutMs: 15_000, what: "nats-server" });
  return "started" as const;
}

async function ensureS3rver({ name, port, bucket, dir: root }: { name: string; port: number; bucket: string; dir: string }, log: (l: string) => void) {
  const url = `http://127.0.0.1:${port}/`;
  if (await s3Answers(url)) return "reused" as const;
  const dir = path.join(root, "s3", name);
  mkdirSync(dir, { recursive: true });
  const require = createRequire(import.meta.url);
  const bin = path.join(path.dirname(require.resolve("s3rver/package.json")), "bin", "s3rver.js");
  const logFd = openSync(path.join(root, `${name}.log`), "a");
  log(`starting s3rver for ${name} on port ${port}`);
  const child = spawn(
    process.execPath,
    [bin, "-d", dir, "-a", "127.0.0.1", "-p", String(port), "--silent", "--allow-mismatched-signatures", "--configure-bucket", bucket],
    {
      detached: true,
      stdio: ["ignore", logFd, logFd],
      // s3rver's paginated listings need the legacy provider on Node 20's OpenSSL 3.
      // eslint-disable-next-line no-restricted-syntax -- the child inherits PATH and locale, not configuration
      env: { ...process.env, NODE_OPTIONS: "--openssl-legacy-provider" },
    },
  );
  child.unref();
  closeSync(logFd);
  writeFileSync(path.join(root, `${name}.pid`), String(child.pid));
  await waitFor(() => s3Answers(url), { timeoutMs: 20_000, what: `s3rver (${name})` });
  return "started" as const;
}

async function ensureDatabase({ host, port, database }: { host: string; port: number; database: string }) {
  const client = new pg.Client({ host, port, user: "postgres", database: "postgres" });
  await client.connect();
  try {
    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [database]);
    if (!rowCount) await client.query(`create database "${database.replace(/"/g, '""')}"`);
  } catch (err) {
    // Two callers racing to create the same database: the loser sees a duplicate; that is fine.
    if ((err as { code?: string }).code !== "42P04" && (err as { code?: string }).code !== "23505") throw err;
  } finally {
    await client.end();
  }
}

/** Local master keys and the session secrets, generated once per checkout into .stack/ (never committed). */
type LocalKeys = { backup: string; dr: string; session: string; admin: string };
function localKeys(dir: string): LocalKeys {
  const file = path.join(dir, "keys.json");
  const secret = () => randomBytes(32).toString("base64url");
  const fresh = (): LocalKeys => ({
    backup: `1:${randomBytes(32).toString("base64")}`,
    dr: `1:${randomBytes(32).toString("base64")}`,
    session: secret(),
    admin: secret(),
  });
  if (existsSync(file)) {
    const keys = JSON.parse(readFileSync(file, "utf8")) as Partial<LocalKeys>;
    if (keys.session && keys.admin) return keys as LocalKeys;
    // a checkout from before the session secrets: keep its keys (its backups need them), add the secrets
    const upgraded = { session: secret(), admin: secret(), ...keys } as LocalKeys;
    writeFileSync(file, JSON.stringify(upgraded), { mode: 0o600 });
    return upgraded;
  }
  try {
    writeFileSync(file, JSON.stringify(fresh()), { mode: 0o600, flag: "wx" });
  } catch {
    // Another process created them first: theirs win, so every process shares one key set.
  }
  return JSON.parse(readFileSync(file, "utf8")) as LocalKeys;
}

export async function ensureStack(options: StackOptions = {}): Promise<StackStatus> {
  const o = {
    pgHost: options.pgHost ?? "127.0.0.1",
    pgPort: options.pgPort ?? 5432,
    natsPort: options.natsPort ?? 4222,
    b2Port: options.b2Port ?? 9101,
    r2Port: options.r2Port ?? 9102,
    database: options.database ?? "hesaab",
    dir: options.dir ?? stackDir(),
  };
  const log = options.log ?? (() => {});
  mkdirSync(o.dir, { recursive: true });
  const parts = {
    postgres: await ensurePostgres(o, log),
    nats: await ensureNats(o, log),
    b2: await ensureS3rver({ name: "b2", port: o.b2Port, bucket: "hesaab-b2", dir: o.dir }, log),
    r2: await ensureS3rver({ name: "r2", port: o.r2Port, bucket: "hesaab-r2", dir: o.dir }, log),
  };
  await ensureDatabase({ host: o.pgHost, port: o.pgPort, database: o.database });
  const keys = localKeys(o.dir);
  const env: Record<string, string> = {
    PLATFORM_DATABASE_URL: `postgres://postgres@${o.pgHost}:${o.pgPort}/${o.database}`,
    BACKUP_DATABASE_URL: `postgres://postgres@${o.pgHost}:${o.pgPort}/${o.database}`,
    NATS_URL: `nats://127.0.0.1:${o.natsPort}`,
    B2_BUCKET_NAME: "hesaab-b2",
    B2_ENDPOINT_URL: `http://127.0.0.1:${o.b2Port}`,
    B2_ACCESS_KEY_ID: S3_KEY,
    B2_SECRET_ACCESS_KEY: S3_KEY,
    B2_REGION: "us-east-005",
    B2_FORCE_PATH_STYLE: "true",
    R2_BUCKET_NAME: "hesaab-r2",
    R2_ENDPOINT_URL: `http://127.0.0.1:${o.r2Port}`,
    R2_ACCESS_KEY_ID: S3_KEY,
    R2_SECRET_ACCESS_KEY: S3_KEY,
    R2_REGION: "auto",
    R2_FORCE_PATH_STYLE: "true",
    BACKUP_MASTER_KEYS: keys.backup,
    DR_MASTER_KEYS: keys.dr,
    TENANT_SESSION_SECRET: keys.session,
    ADMIN_SESSION_SECRET: keys.admin,
    HESAAB_DATA_DIR: path.join(o.dir, "data"),
    // The SDK warns on Node 20 about releases after 2027-01; we pin the SDK, so the warning is noise.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
  const envFile = path.join(o.dir, "env");
  writeFileSync(
    envFile,
    Object.entries(env)
      .map(([k, v]) => `export ${k}='${v}'`)
      .join("\n") + "\n",
    { mode: 0o600 },
  );
  return { env, envFile, parts };
}

/** Reads `.stack/env` (written by ensureStack) into a plain object; empty when the stack never ran. */
export function readStackEnv(dir: string | undefined = findRepoRoot() && stackDir()): Record<string, string> {
  // outside a checkout (the one-file CLI) there is no local stack: only the environment counts
  if (!dir) return {};
  const file = path.join(dir, "env");
  if (!existsSync(file)) return {};
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^export ([A-Z0-9_]+)='(.*)'$/.exec(line);
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

/** Stops the s3rver processes this stack started. PostgreSQL and NATS are system services and stay up. */
export function stopStack(dir = stackDir()): string[] {
  const stopped: string[] = [];
  for (const name of ["b2", "r2"]) {
    const pidFile = path.join(dir, `${name}.pid`);
    if (!existsSync(pidFile)) continue;
    const pid = Number(readFileSync(pidFile, "utf8"));
    // An empty pid file would give 0, and kill(0) signals our own process group.
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      process.kill(pid, "SIGTERM");
      stopped.push(name);
    } catch {
      // already gone
    }
    writeFileSync(pidFile, "");
  }
  return stopped;
}
