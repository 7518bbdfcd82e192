import pg from "pg";
import { DbError } from "./errors";

/** How long a query waits for a pool's connection (a free one, or a new one opening) by default: `DATABASE_CONNECT_TIMEOUT_MS`. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface OpenPoolOptions {
  url: string;
  max: number;
  /** `application_name` the server shows for its connections. */
  name?: string;
  /** After this long without a connection, `database_busy` (default {@link DEFAULT_CONNECT_TIMEOUT_MS}). */
  connectTimeoutMs?: number | undefined;
}

/** pg's words for "no connection within connectionTimeoutMillis": none free in the pool, or a new one did not open. */
const TIMED_OUT = /timeout exceeded when trying to connect|connection terminated due to connection timeout/i;

/** The retryable error a pool's timeout becomes (the gateway answers it as 503). */
export function databaseBusy(seconds: number, cause?: unknown): DbError {
  return new DbError({
    code: "database_busy",
    retryable: true,
    message: `no database connection was free within ${seconds} s`,
    hint: "Retry in a moment",
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Every pg pool of the system is opened here: it waits at most `connectTimeoutMs` for a connection
 * (pg waits for ever without `connectionTimeoutMillis`), and says so as a retryable `database_busy`;
 * an idle connection the server drops leaves the pool instead of crashing the process.
 *
 * A bound turns a wait that could not end into an error, but does not make one impossible to begin
 * with: code that holds a pool's connection must never wait for a second one from the same pool
 * (with `max` holders at once, each waits for the others).
 */
export function openPool({ url, max, name, connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS }: OpenPoolOptions): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: connectTimeoutMs, ...(name ? { application_name: name } : {}) });
  pool.on("error", () => {});
  const busy = (err: unknown): unknown =>
    err instanceof Error && TIMED_OUT.test(err.message) ? databaseBusy(Math.round(connectTimeoutMs / 100) / 10, err) : err;
  const connect = pool.connect.bind(pool) as (
    cb?: (err: Error | undefined, client?: pg.PoolClient, done?: (release?: unknown) => void) => void,
  ) => Promise<pg.PoolClient> | undefined;
  // pool.query takes its client through `this.connect` as well: one place maps both
  pool.connect = ((cb?: (err: Error | undefined, client?: pg.PoolClient, done?: (release?: unknown) => void) => void) => {
    if (cb) return connect((err, client, done) => cb(err ? (busy(err) as Error) : err, client, done));
    return connect()!.catch((err: unknown) => {
      throw busy(err);
    });
  }) as typeof pool.connect;
  return pool;
}
