// Any shared-schema platform, not only the sample: an integer-keyed root table without a status
// column, in its own schema, and global tables that reference each other.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { type FreshDatabase, freshDatabase, testPool } from "@hesaab/testkit";
import { checkDependencies, copyDependencies, dependencyTables, discoverTenantPlan, listTenants, screenTenants, type TenantPlan } from "../src/index";

const SCHEMA = `
  CREATE SCHEMA crm;
  CREATE TABLE crm.regions (code text PRIMARY KEY, name text NOT NULL);
  CREATE TABLE crm.countries (code text PRIMARY KEY, region text NOT NULL REFERENCES crm.regions (code), label text GENERATED ALWAYS AS (upper(code)) STORED);
  CREATE TABLE crm.accounts (id bigint PRIMARY KEY, name text NOT NULL, country text NOT NULL REFERENCES crm.countries (code));
  CREATE TABLE crm.contacts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, account_id bigint NOT NULL REFERENCES crm.accounts (id), email text);
`;

let source: FreshDatabase;
let pool: pg.Pool;
let plan: TenantPlan;

beforeAll(async () => {
  source = await freshDatabase("td_screen");
  pool = testPool({ connectionString: source.url, max: 2 });
  await pool.query(SCHEMA);
  await pool.query(`
    INSERT INTO crm.regions VALUES ('eu', 'Europe'), ('as', 'Asia');
    INSERT INTO crm.countries (code, region) VALUES ('de', 'eu'), ('ir', 'as');
    INSERT INTO crm.accounts VALUES (1, 'one', 'de'), (2, 'two', 'ir');
    INSERT INTO crm.contacts (account_id, email) VALUES (1, 'a@x'), (2, 'b@x');`);
  const client = await pool.connect();
  try {
    plan = await discoverTenantPlan({ client, tenantColumn: "account_id", rootTable: "accounts", rootKey: "id", schemas: ["crm"] });
  } finally {
    client.release();
  }
});

afterAll(async () => {
  await pool?.end();
  await source?.drop();
});

describe("screenTenants", () => {
  it("checks ids against the root table's key type, in one query; without a status column every tenant is active", async () => {
    expect(plan.root).toMatchObject({ name: "crm.accounts", keyType: "bigint", statusColumn: null });
    const screened = await screenTenants({ pool, plan, tenantIds: ["2", "x1", "3", "1", "2"] });
    expect(screened.accepted).toEqual(["2", "1"]);
    expect(screened.refused).toEqual([
      { tenantId: "x1", code: "invalid_tenant_id", message: '"x1" is not a tenant id of this platform (crm.accounts.id is bigint)' },
      { tenantId: "3", code: "not_a_tenant", message: "3 is not a tenant of this platform (no row in crm.accounts)" },
    ]);
  });
});

describe("listTenants", () => {
  it("reads the discovered root table in key order (numeric for an integer key); without a status column every tenant is active", async () => {
    await pool.query("INSERT INTO crm.accounts VALUES (10, 'ten', 'de')");
    try {
      expect(await listTenants({ pool, plan, which: "active" })).toEqual(["1", "2", "10"]);
      expect(await listTenants({ pool, plan, which: "existing" })).toEqual(["1", "2", "10"]);
    } finally {
      await pool.query("DELETE FROM crm.accounts WHERE id = 10");
    }
  });

  it("leaves out suspended and deleted tenants (active), or only deleted ones (existing), whatever the root table is called", async () => {
    await pool.query(`
      CREATE TABLE public.companies (id uuid PRIMARY KEY, status text);
      CREATE TABLE public.ledgers (id serial PRIMARY KEY, company_ref uuid NOT NULL REFERENCES public.companies (id));
      INSERT INTO public.companies VALUES
        ('00000000-0000-4000-8000-000000000001', 'active'), ('00000000-0000-4000-8000-000000000002', 'suspended'),
        ('00000000-0000-4000-8000-000000000003', 'deleted'), ('00000000-0000-4000-8000-000000000004', NULL);`);
    try {
      const client = await pool.connect();
      const companies = await discoverTenantPlan({ client, tenantColumn: "company_ref", rootTable: "companies" }).finally(() => client.release());
      const id = (n: number) => `00000000-0000-4000-8000-00000000000${n}`;
      expect(companies.root.statusColumn).not.toBeNull();
      expect(await listTenants({ pool, plan: companies, which: "active" })).toEqual([id(1), id(4)]);
      expect(await listTenants({ pool, plan: companies, which: "existing" })).toEqual([id(1), id(2), id(4)]);
    } finally {
      await pool.query("DROP TABLE public.ledgers, public.companies");
    }
  });
});

describe("dependency tables of a copy", () => {
  it("takes the closure of global tables, parents first; checks a target; copies the rows once", async () => {
    const tables = await dependencyTables({ pool, plan });
    expect(tables.map((t) => t.name)).toEqual(["crm.regions", "crm.countries"]);
    expect(tables[1]!.columns).toEqual(["code", "region"]); // the generated column is PostgreSQL's to compute

    const target = await freshDatabase("td_screen_target");
    const targetPool = testPool({ connectionString: target.url, max: 2 });
    try {
      await targetPool.query("CREATE SCHEMA crm; CREATE TABLE crm.regions (code text PRIMARY KEY, name text NOT NULL)");
      expect(await checkDependencies({ source: pool, target: targetPool, tables })).toEqual({
        missingTables: ["crm.countries"],
        shortTables: [{ name: "crm.regions", rows: 0, sourceRows: 2 }],
      });
      await targetPool.query("DROP SCHEMA crm CASCADE");
      await targetPool.query(SCHEMA);
      await targetPool.query("INSERT INTO crm.regions VALUES ('eu', 'Europe')");
      expect(await copyDependencies({ source: pool, target: targetPool, tables })).toEqual([
        { table: "crm.regions", rows: 1 },
        { table: "crm.countries", rows: 2 },
      ]);
      const rows = (p: pg.Pool) => p.query("SELECT c.*, r.name FROM crm.countries c JOIN crm.regions r ON r.code = c.region ORDER BY 1").then((r) => r.rows);
      expect(await rows(targetPool)).toEqual(await rows(pool));
      expect(await checkDependencies({ source: pool, target: targetPool, tables })).toEqual({ missingTables: [], shortTables: [] });
      expect(await copyDependencies({ source: pool, target: targetPool, tables })).toEqual([
        { table: "crm.regions", rows: 0 },
        { table: "crm.countries", rows: 0 },
      ]);
    } finally {
      await targetPool.end();
      await target.drop();
    }
  });
});
