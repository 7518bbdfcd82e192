import pg from "pg";

/**
 * Where to run: an already connected client (used as is, never ended), a pool (a client is taken
 * and given back), or a connection URL (a client is opened and closed here).
 */
export type PgTarget = { client: pg.ClientBase } | { pool: pg.Pool } | { url: string };

/** Run `fn` with one client of `target`. A client that failed is destroyed, not returned to its pool. */
export async function withClient<T>(target: PgTarget, fn: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  if ("client" in target) return fn(target.client);
  if ("pool" in target) {
    const client = await target.pool.connect();
    try {
      const result = await fn(client);
      client.release();
      return result;
    } catch (err) {
      client.release(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }
  const client = new pg.Client({ connectionString: target.url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `"name"`, with embedded quotes doubled. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `"schema"."name"`. */
export function qualify(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}
