// Where an operator may restore a disaster backup through the API: a database that is not one the
// platform and its services run on, reachable, and empty (unless asked otherwise, as the CLI's
// --force-non-empty). The gateway checks before it queues the restore; dr-svc checks again before
// anything is fetched (a command may come from elsewhere, and the target may change in between).
import pg from "pg";
import { redactUrl } from "@hesaab/config";
import { DrError } from "./errors";
import { userObjects } from "./pg-tools";

/** A bare database name (then on the platform's server), as Postgres spells an unquoted one. */
const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Seconds a probe waits for a connection: an unreachable target is refused, not waited on. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The target's URL: a database name is that database on the platform's server (the platform's
 * credentials); anything else must be a postgres URL. Refused (`dr_invalid_argument`) otherwise.
 */
export function disasterTargetUrl(targetDb: string, platformUrl: string): string {
  if (DATABASE_NAME.test(targetDb)) {
    const u = new URL(platformUrl);
    u.pathname = `/${targetDb}`;
    return u.toString();
  }
  let u: URL;
  try {
    u = new URL(targetDb);
  } catch {
    throw invalidTarget();
  }
  if ((u.protocol !== "postgres:" && u.protocol !== "postgresql:") || u.pathname.length < 2) throw invalidTarget();
  return targetDb;
}

const invalidTarget = () =>
  new DrError({
    code: "dr_invalid_argument",
    // the value itself may hold a password: it is not repeated
    message: "the target database is neither a database name nor a postgres URL naming a database",
    hint: "Give a database name (created on the platform's server) or postgres://user@host:port/database",
  });

/** Which cluster and database a URL reaches: the server's system identifier and the database's name. */
interface DatabaseIdentity {
  system: string;
  database: string;
}

async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, application_name: "hesaab-dr-check", connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  c.on("error", () => {});
  await c.connect();
  return c;
}

async function systemIdentifier(c: pg.Client): Promise<string> {
  const { rows } = await c.query<{ id: string }>("select system_identifier::text as id from pg_control_system()");
  return rows[0]!.id;
}

async function liveIdentity(url: string): Promise<DatabaseIdentity> {
  const c = await client(url);
  try {
    const { rows } = await c.query<{ db: string }>("select current_database() as db");
    return { system: await systemIdentifier(c), database: rows[0]!.db };
  } finally {
    await c.end().catch(() => {});
  }
}

/**
 * The target's identity and objects. A database that does not exist yet (the restore creates it) is
 * identified through the server's `postgres` database; a server that cannot be reached is refused.
 */
async function probeTarget(url: string): Promise<DatabaseIdentity & { exists: boolean; objects: string[] }> {
  const database = decodeURIComponent(new URL(url).pathname.slice(1));
  let c: pg.Client;
  let exists = true;
  try {
    c = await client(url);
  } catch (err) {
    if ((err as { code?: string }).code !== "3D000") throw unreachable(url, err);
    exists = false;
    const server = new URL(url);
    server.pathname = "/postgres";
    c = await client(server.toString()).catch((e: unknown) => {
      throw unreachable(url, e);
    });
  }
  try {
    return { system: await systemIdentifier(c), database, exists, objects: exists ? await userObjects(c) : [] };
  } finally {
    await c.end().catch(() => {});
  }
}

const unreachable = (url: string, err: unknown) =>
  new DrError({
    code: "dr_target_unreachable",
    message: `cannot connect to the target database ${redactUrl(url)}: ${(err as Error).message}`,
    hint: "Check the target's host, port and credentials; it must be reachable from the services",
    retryable: true,
    cause: err,
  });

/**
 * Refuses a target the platform runs on (same server, by system identifier, and same database as any
 * of `liveUrls`), one that cannot be reached, and one that holds objects unless `allowNonEmpty`.
 */
export async function checkDisasterTarget(o: { targetUrl: string; liveUrls: string[]; allowNonEmpty?: boolean | undefined }): Promise<{ exists: boolean }> {
  const target = await probeTarget(o.targetUrl);
  for (const live of new Set(o.liveUrls)) {
    const id = await liveIdentity(live);
    if (id.system === target.system && id.database === target.database) {
      throw new DrError({
        code: "dr_target_is_live",
        message: `the target database ${redactUrl(o.targetUrl)} is the one the platform and its services run on: a disaster restore never writes there`,
        hint: "Restore into another database (a new name), check it, then switch the platform over to it",
      });
    }
  }
  if (target.objects.length > 0 && !o.allowNonEmpty) {
    throw new DrError({
      code: "dr_target_not_empty",
      message: `the target database ${redactUrl(o.targetUrl)} is not empty: it holds ${target.objects.slice(0, 5).join(", ")}${target.objects.length > 5 ? " and more" : ""}`,
      hint: "Restore into a new, empty database, or allow a non-empty one (objects of the same names are dropped and replaced)",
      context: { objects: target.objects.slice(0, 20) },
    });
  }
  return { exists: target.exists };
}
