import { spawn } from "node:child_process";
import { PassThrough, type Readable } from "node:stream";
import pg from "pg";
import { redactUrl } from "@hesaab/config";
import { DrError } from "./errors";

/**
 * Thin, streaming wrappers around pg_dump and pg_restore. The dump never touches the disk here:
 * it flows from pg_dump's stdout into the caller's pipeline; a failure of pg_dump (exit code, signal)
 * errors the stream, so a partial dump can never be taken for a complete one.
 */

/** Libpq settings from a URL, passed through the environment (never on the command line, where `ps` shows them). */
function libpqEnv(url: string): NodeJS.ProcessEnv {
  const u = new URL(url);
  // eslint-disable-next-line no-restricted-syntax -- the child inherits PATH and locale, not configuration
  const env: NodeJS.ProcessEnv = { ...process.env, PGHOST: u.hostname, PGPORT: u.port || "5432", PGDATABASE: decodeURIComponent(u.pathname.slice(1)) };
  if (u.username) env.PGUSER = decodeURIComponent(u.username);
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  for (const [k, v] of u.searchParams) if (k === "sslmode") env.PGSSLMODE = v;
  return env;
}

export interface DumpOptions {
  url: string;
  /** A snapshot exported with pg_export_snapshot(): the dump then sees exactly what the manifest counted. */
  snapshot?: string;
  signal?: AbortSignal | undefined;
}

/** `pg_dump -Fc` of the whole database as a stream. The stream errors if pg_dump fails. */
export function dumpDatabase({ url, snapshot, signal }: DumpOptions): Readable {
  const args = ["--format=custom", "--compress=6", "--no-password"];
  if (snapshot) args.push(`--snapshot=${snapshot}`);
  const child = spawn("pg_dump", args, { env: libpqEnv(url), stdio: ["ignore", "pipe", "pipe"], signal });
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  child.stdout.pipe(out, { end: false });
  const fail = (message: string, cause?: unknown) =>
    out.destroy(
      new DrError({
        code: "dr_dump_failed",
        message,
        retryable: true,
        cause,
        hint: "Check that pg_dump matches the server's major version and can reach the database",
      }),
    );
  child.once("error", (err) => fail(`pg_dump could not run: ${err.message}`, err));
  let stdoutEnded = false;
  let exit: { code: number | null; sig: NodeJS.Signals | null } | undefined;
  const finish = () => {
    if (!stdoutEnded || !exit) return;
    if (exit.code === 0) out.end();
    else fail(`pg_dump of ${redactUrl(url)} failed (${exit.sig ?? `exit ${exit.code}`}): ${stderr.trim()}`);
  };
  child.stdout.once("end", () => {
    stdoutEnded = true;
    finish();
  });
  child.once("close", (code, sig) => {
    exit = { code, sig };
    finish();
  });
  out.once("close", () => {
    if (exit === undefined) child.kill("SIGTERM");
  });
  return out;
}

/** pg_dump's sections: definitions, table data, then what is built over the data (indexes, constraints, triggers, grants). */
export type DumpSection = "pre-data" | "data" | "post-data";

export interface RestoreOptions {
  file: string;
  targetUrl: string;
  jobs?: number;
  /** Drop objects of the same names first (`--clean --if-exists`): restoring over a database that is not empty. */
  clean?: boolean;
  /** Give objects their owners back (the roles must exist); otherwise the restoring user owns everything (`--no-owner`). */
  owners?: boolean;
  /** Only these sections (`--section`); default all. */
  sections?: DumpSection[];
  signal?: AbortSignal | undefined;
}

/** `pg_restore -j N` of a custom-format dump file into `targetUrl` (which must exist). */
export function restoreDump({ file, targetUrl, jobs = 2, clean = false, owners = false, sections = [], signal }: RestoreOptions): Promise<void> {
  const what = sections.length > 0 ? `pg_restore --section=${sections.join(",")}` : "pg_restore";
  return new Promise((resolve, reject) => {
    const args = [
      "--no-password",
      "--exit-on-error",
      ...(owners ? [] : ["--no-owner"]),
      `--jobs=${jobs}`,
      ...(clean ? ["--clean", "--if-exists"] : []),
      ...sections.map((section) => `--section=${section}`),
      "-d",
      decodeURIComponent(new URL(targetUrl).pathname.slice(1)),
      file,
    ];
    const child = spawn("pg_restore", args, { env: libpqEnv(targetUrl), stdio: ["ignore", "ignore", "pipe"], signal });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    child.once("error", (err) => reject(new DrError({ code: "dr_restore_failed", message: `${what} could not run: ${err.message}`, cause: err })));
    child.once("close", (code, sig) => {
      if (code === 0) resolve();
      else
        reject(new DrError({ code: "dr_restore_failed", message: `${what} into ${redactUrl(targetUrl)} failed (${sig ?? `exit ${code}`}): ${stderr.trim()}` }));
    });
  });
}

/** Opens a client on `url`, with an error that names the database (password redacted) when it cannot. */
export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: "hesaab-dr" });
  try {
    await client.connect();
  } catch (err) {
    throw new DrError({
      code: "dr_target_unreachable",
      message: `cannot connect to ${redactUrl(url)}: ${(err as Error).message}`,
      hint: "Create the database first (createdb) and check the URL",
      retryable: true,
      cause: err,
    });
  }
  client.on("error", () => {});
  return client;
}

/** Names of user objects in a database (tables first, at most 20): empty means safe to restore into. */
export async function userObjects(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(`
    select n.nspname || '.' || c.relname as name
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
       and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%' and n.nspname not like 'pg_temp%'
     order by c.relkind not in ('r', 'p'), 1 limit 20`);
  return rows.map((r) => r.name);
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** Whether the database of `url` exists, and its user objects (empty: safe to restore into). */
export async function probeDatabase(url: string): Promise<{ exists: boolean; objects: string[] }> {
  let client: pg.Client;
  try {
    client = await connect(url);
  } catch (err) {
    if ((err as { cause?: { code?: string } }).cause?.code === "3D000") return { exists: false, objects: [] };
    throw err;
  }
  try {
    return { exists: true, objects: await userObjects(client) };
  } finally {
    await client.end().catch(() => {});
  }
}

/** `create database` for the database named by `url`, through the server's `postgres` database. */
export async function createDatabase(url: string): Promise<void> {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.slice(1));
  u.pathname = "/postgres";
  const client = await connect(u.toString());
  try {
    await client.query(`create database ${quoteIdent(name)}`);
  } catch (err) {
    throw new DrError({
      code: "dr_target_unreachable",
      message: `cannot create database ${name} on ${redactUrl(url)}: ${(err as Error).message}`,
      hint: "Create it yourself (createdb) and run the restore again",
      cause: err,
    });
  } finally {
    await client.end().catch(() => {});
  }
}
