/**
 * The scratch database a drill restores into: created (`hesaab_drill_<random>`) on the platform's
 * server and dropped when the drill ends, however it ends; or a configured one (DRILL_DATABASE_URL),
 * whose tenant rows the drill leaves for the next drill to replace. A tenant drill copies the
 * platform's table definitions into it first (`pg_dump --schema-only` of the plan's schemas piped
 * into `psql`), so the normal restore path finds the schema it expects; a disaster drill restores
 * into an empty one (pg_restore creates everything).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import pg from "pg";
import { redactUrl } from "@hesaab/config";
import { DrillError } from "./errors";

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

export interface ScratchDatabase {
  url: string;
  /** True when the drill created it (and drops it). */
  created: boolean;
  [Symbol.asyncDispose](): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(name)}`;
  return u.toString();
}

async function onMaintenance<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(url, "postgres") });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A fresh database beside `serverUrl`'s (dropped on dispose), or the configured one as it is. */
export async function openScratchDatabase(o: { serverUrl: string; configuredUrl?: string | undefined; create?: boolean }): Promise<ScratchDatabase> {
  if (o.configuredUrl) return { url: o.configuredUrl, created: false, [Symbol.asyncDispose]: async () => {} };
  const name = `hesaab_drill_${randomBytes(6).toString("hex")}`;
  const url = withDatabase(o.serverUrl, name);
  const drop = () => onMaintenance(url, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`)).then(() => undefined);
  if (o.create !== false) {
    await onMaintenance(url, (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`)).catch((err: unknown) => {
      throw new DrillError({
        code: "drill_scratch_failed",
        message: `cannot create the drill's scratch database on ${redactUrl(url)}: ${(err as Error).message}`,
        hint: "Give the backup role CREATEDB, or set DRILL_DATABASE_URL to a database the drill may use",
        retryable: true,
        cause: err,
      });
    });
  }
  return { url, created: true, [Symbol.asyncDispose]: () => drop().catch(() => undefined) };
}

/** Libpq settings from a URL, through the environment (never on a command line, where `ps` shows passwords). */
function libpqEnv(url: string): NodeJS.ProcessEnv {
  const u = new URL(url);
  // eslint-disable-next-line no-restricted-syntax -- the child inherits PATH and locale, not configuration
  const env: NodeJS.ProcessEnv = { ...process.env, PGHOST: u.hostname, PGPORT: u.port || "5432", PGDATABASE: decodeURIComponent(u.pathname.slice(1)) };
  if (u.username) env.PGUSER = decodeURIComponent(u.username);
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  return env;
}

function run(o: { cmd: string; args: string[]; url: string; stdin?: Readable }): { stdout: Readable; done: Promise<void> } {
  const child = spawn(o.cmd, o.args, { env: libpqEnv(o.url), stdio: ["pipe", "pipe", "pipe"] });
  if (o.stdin) o.stdin.pipe(child.stdin);
  else child.stdin.end();
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-2000)));
  const done = new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, sig) =>
      code === 0 ? resolve() : reject(new Error(`${o.cmd} failed (${sig ?? `exit ${code}`}): ${stderr.trim().replace(/postgres(ql)?:\/\/[^\s]*/g, "<url>")}`)),
    );
  });
  return { stdout: child.stdout, done };
}

/** Copies the definitions (no rows) of `schemas` from `sourceUrl` into the empty, freshly created `targetUrl`. */
export async function copySchema(o: { sourceUrl: string; targetUrl: string; schemas: string[] }): Promise<void> {
  // a new database has an empty `public`; a dump that names it creates it, so it goes first
  const target = new pg.Client({ connectionString: o.targetUrl });
  await target.connect();
  try {
    await target.query(o.schemas.map((s) => `DROP SCHEMA IF EXISTS ${quoteIdent(s)} CASCADE`).join("; "));
  } finally {
    await target.end().catch(() => undefined);
  }
  const dump = run({
    cmd: "pg_dump",
    args: ["--schema-only", "--no-owner", "--no-privileges", "--no-password", ...o.schemas.flatMap((s) => ["--schema", s])],
    url: o.sourceUrl,
  });
  const load = run({ cmd: "psql", args: ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password"], url: o.targetUrl, stdin: dump.stdout });
  try {
    await Promise.all([dump.done, load.done]);
  } catch (err) {
    throw new DrillError({
      code: "drill_scratch_failed",
      message: `cannot copy the platform's schema into the scratch database ${redactUrl(o.targetUrl)}: ${(err as Error).message}`,
      hint: "pg_dump and psql must be installed and match the server's major version",
      retryable: true,
      cause: err,
    });
  }
}
