import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { type FreshDatabase, freshDatabase } from "@hesaab/testkit";
import { createPlatformSchema, dropPlatformSchema, generatePlatform, PLATFORM_ENUMS, PLATFORM_TABLES, tableChecksums } from "../src/index";

describe("platform schema", () => {
  let db: FreshDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await freshDatabase("platform_test");
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await createPlatformSchema({ client });
  });
  afterAll(async () => {
    await client.end();
    await db.drop();
  });

  const one = async (sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows;

  it("is idempotent", async () => {
    const fingerprint = async () =>
      one(
        "SELECT (SELECT array_agg(c.relname || ':' || c.relkind::text ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public') AS rels, " +
          "(SELECT array_agg(conname || ':' || pg_get_constraintdef(oid) ORDER BY conname) FROM pg_constraint WHERE connamespace = 'public'::regnamespace) AS cons",
      );
    const before = await fingerprint();
    await createPlatformSchema({ client });
    await createPlatformSchema({ url: db.url });
    expect(await fingerprint()).toEqual(before);
    const tables = await one("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
    const partitions = PLATFORM_TABLES.flatMap((t) => t.partitioned?.partitions ?? []);
    expect(tables[0].n).toBe(PLATFORM_TABLES.length + partitions.length);
  });

  it("has a global table without tenant_id referenced by tenant rows", async () => {
    const cols = await one("SELECT column_name FROM information_schema.columns WHERE table_name = 'currencies'");
    expect(cols.map((c) => c.column_name)).not.toContain("tenant_id");
    const refs = await one("SELECT conrelid::regclass::text AS t FROM pg_constraint WHERE contype = 'f' AND confrelid = 'currencies'::regclass");
    expect(refs.map((r) => r.t)).toEqual(expect.arrayContaining(["tenants", "invoices", "payments"]));
  });

  it("has tables owned only through a foreign key, one of them two hops from a tenant_id", async () => {
    const owned = PLATFORM_TABLES.filter((x) => x.scope === "owned");
    expect(owned.some((t) => owned.some((parent) => parent.name === t.via!.table))).toBe(true);
    for (const t of PLATFORM_TABLES.filter((x) => x.scope === "owned")) {
      const cols = await one("SELECT column_name FROM information_schema.columns WHERE table_name = $1", [t.name]);
      expect(cols.map((c) => c.column_name)).not.toContain("tenant_id");
      const fk = await one("SELECT confrelid::regclass::text AS parent FROM pg_constraint WHERE contype = 'f' AND conrelid = $1::regclass", [t.name]);
      expect(fk.map((r) => r.parent)).toContain(t.via!.table);
    }
  });

  it("has composite, self-referencing and deferrable foreign keys", async () => {
    const fks = await one(
      "SELECT conname, conrelid::regclass::text AS child, confrelid::regclass::text AS parent, array_length(conkey, 1) AS width, condeferrable, condeferred FROM pg_constraint WHERE contype = 'f'",
    );
    expect(fks).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ child: "invoice_lines", parent: "invoices", width: 2 }),
        expect.objectContaining({ child: "accounts", parent: "accounts", width: 2 }),
        expect.objectContaining({ child: "customers", parent: "customers", width: 2 }),
        expect.objectContaining({ child: "customers", parent: "invoices", condeferrable: true, condeferred: false }),
      ]),
    );
  });

  it("has range and hash partitioned tables with a default partition", async () => {
    const parts = await one(
      "SELECT p.relname AS parent, c.relname AS part, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent",
    );
    expect(parts.filter((p) => p.parent === "journal_lines")).toHaveLength(4);
    expect(parts.filter((p) => p.parent === "audit_events").map((p) => p.bound)).toContain("DEFAULT");
    const kinds = await one("SELECT relname, relkind FROM pg_class WHERE relname IN ('journal_lines', 'audit_events')");
    expect(kinds.every((k) => k.relkind === "p")).toBe(true);
  });

  it("has a generated column, identity columns, enums and the awkward column types", async () => {
    const cols = await one(
      "SELECT table_name, column_name, data_type, udt_name, is_generated, identity_generation FROM information_schema.columns WHERE table_schema = 'public'",
    );
    const col = (t: string, c: string) => cols.find((x) => x.table_name === t && x.column_name === c);
    expect(col("invoice_lines", "line_total")?.is_generated).toBe("ALWAYS");
    expect(col("journal_entries", "id")?.identity_generation).toBe("ALWAYS");
    expect(col("invoices", "id")?.identity_generation).toBe("BY DEFAULT");
    expect(col("tenants", "status")?.udt_name).toBe("tenant_status");
    expect(col("customers", "tags")?.udt_name).toBe("_text");
    expect(col("products", "dimensions")?.udt_name).toBe("_int4");
    expect(col("products", "image")?.data_type).toBe("bytea");
    expect(col("products", "group")).toBeDefined();
    expect(col("customers", "metadata")?.data_type).toBe("jsonb");
    expect(col("invoices", "total")?.data_type).toBe("numeric");
    const enums = await one("SELECT typname FROM pg_type WHERE typtype = 'e'");
    expect(enums.map((e) => e.typname)).toEqual(expect.arrayContaining([...PLATFORM_ENUMS]));
  });

  it("works in another schema, and drops only its own tables", async () => {
    await client.query("CREATE TABLE public.keep_me (x int)");
    await createPlatformSchema({ client, schema: "hesaab plus" });
    await generatePlatform({ client, schema: "hesaab plus", tenants: 2, scale: 0.02, seed: 3 });
    const sums = await tableChecksums({ client, schema: "hesaab plus" });
    expect(sums.tenants!.rows).toBe(2);
    await dropPlatformSchema({ client, schema: "hesaab plus" });
    await dropPlatformSchema({ client });
    const left = await one("SELECT tablename FROM pg_tables WHERE schemaname IN ('public', 'hesaab plus')");
    expect(left.map((r) => r.tablename)).toEqual(["keep_me"]);
    const types = await one("SELECT typname FROM pg_type WHERE typtype = 'e'");
    expect(types).toEqual([]);
  });
});
