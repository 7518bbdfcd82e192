import type pg from "pg";

/** Where to run: a pool (a client is taken and given back) or a client the caller holds. */
export type PgSource = { pool: pg.Pool; client?: undefined } | { client: pg.ClientBase; pool?: undefined };

export interface Lease {
  client: pg.ClientBase;
  /**
   * Give the client back. With an error, a pooled client is destroyed rather than reused (its
   * connection may be mid-COPY or mid-transaction). A caller's client is left to the caller.
   */
  release(err?: Error): void;
  /** The connection's own error, when it was lost between queries (a query on it since says only "not queryable"). */
  lost(): Error | undefined;
}

export async function lease(source: PgSource): Promise<Lease> {
  if (source.pool) {
    const client = await source.pool.connect();
    let released = false;
    // A leased client has no listener of the pool's: a connection lost between queries (terminated,
    // the server gone) would be an uncaught 'error'. The lease keeps it instead; the next query on
    // the client fails with it, and the release destroys the client.
    let lost: Error | undefined;
    const onError = (err: Error) => void (lost ??= err);
    client.on("error", onError);
    return {
      client,
      release: (err) => {
        if (released) return;
        released = true;
        client.removeListener("error", onError);
        client.release(err ?? lost);
      },
      lost: () => lost,
    };
  }
  return { client: source.client, release: () => undefined, lost: () => undefined };
}

export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
