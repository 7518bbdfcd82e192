import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { type FreshDatabase, freshDatabase, testPool } from "@hesaab/testkit";
import { PLATFORM_TABLES, createPlatformSchema } from "@hesaab/platform";
import { type TenantPlan, discoverTenantPlan, formatPlan } from "../src/index";

let db: FreshDatabase;
let pool: pg.Pool;

async function discover(opts: Omit<Parameters<typeof discoverTenantPlan>[0], "client"> = {}): Promise<TenantPlan> {
  const client = await pool.connect();
  try {
    return await discoverTenantPlan({ client, ...opts });
  } finally {
    client.release();
  }
}

beforeAll(async () => {
  db = await freshDatabase("td_discover");
  pool = testPool({ connectionString: db.url, max: 2 });
  await createPlatformSchema({ pool });
  // a table with tenant_id in the backup system's own schema: never a tenant table
  await pool.query("CREATE SCHEMA backup; CREATE TABLE backup.tenant_restores (id int PRIMARY KEY, tenant_id uuid NOT NULL)");
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe("discoverTenantPlan on the sample platform", () => {
  it("finds exactly the platform's tenant tables, with the platform's scopes", async () => {
    const plan = await discover();
    const expected = PLATFORM_TABLES.filter((t) => t.scope !== "global").map((t) => [`public.${t.name}`, t.scope]);
    expect(plan.tables.map((t) => [t.name, t.scope]).sort()).toEqual(expected.sort());
    expect(plan.root.name).toBe("public.tenants");
    expect(plan.root.statusColumn).toBe("status");
    expect(plan.globals).toEqual(["public.currencies"]);
    expect(plan.dependencies).toEqual(["public.currencies"]);
    expect(plan.warnings).toEqual([]);
  });

  it("reaches owned tables through their foreign-key chain, at any depth", async () => {
    const plan = await discover();
    for (const expected of PLATFORM_TABLES.filter((t) => t.scope === "owned")) {
      const table = plan.tables.find((t) => t.name === `public.${expected.name}`)!;
      expect(table.filter.kind).toBe("join");
      if (table.filter.kind !== "join") continue;
      const first = table.filter.hops[0]!;
      expect(first.parent).toBe(`public.${expected.via!.table}`);
      expect(first.columns).toEqual([expected.via!.column]);
      expect(first.parentColumns).toEqual([expected.via!.references]);
      // the chain ends at a table with tenant_id
      expect(table.filter.column).toBe("tenant_id");
    }
    const thumbnails = plan.tables.find((t) => t.name === "public.attachment_thumbnails")!;
    expect(thumbnails.filter.kind === "join" && thumbnails.filter.hops.map((h) => h.parent)).toEqual(["public.attachments", "public.invoices"]);
  });

  it("reads partitioned tables through the parent only", async () => {
    const plan = await discover();
    const names = plan.tables.map((t) => t.name);
    for (const t of PLATFORM_TABLES.filter((x) => x.partitioned)) {
      const table = plan.tables.find((x) => x.name === `public.${t.name}`)!;
      expect(table.partitioned).toBe(true);
      expect(table.partitions.sort()).toEqual(t.partitioned!.partitions.map((p) => `public.${p}`).sort());
      for (const p of t.partitioned!.partitions) expect(names).not.toContain(`public.${p}`);
    }
  });

  it("leaves generated columns out of the column lists", async () => {
    const plan = await discover();
    for (const t of PLATFORM_TABLES.filter((x) => x.generatedColumns)) {
      const table = plan.tables.find((x) => x.name === `public.${t.name}`)!;
      expect(table.generatedColumns).toEqual(t.generatedColumns);
      for (const c of t.generatedColumns!) expect(table.columns.map((x) => x.name)).not.toContain(c);
    }
  });

  it("orders tables parents first; the deferrable cycle is deferred; delete order is the reverse", async () => {
    const plan = await discover();
    const position = new Map(plan.tables.map((t, i) => [t.name, i]));
    const deferred = new Set(plan.deferredConstraints.map((d) => `${d.table}>${d.references}`));
    for (const t of plan.tables) {
      for (const parent of t.parents) {
        if (position.get(parent)! > position.get(t.name)!) expect(deferred.has(`${t.name}>${parent}`)).toBe(true);
      }
    }
    expect(plan.deferredConstraints).toEqual([{ table: "public.customers", constraint: "customers_default_invoice_fkey", references: "public.invoices" }]);
    expect(plan.tables[0]!.name).toBe("public.tenants");
    expect(plan.deleteOrder).toEqual(plan.tables.map((t) => t.name).reverse());
    // self-references (accounts.parent, customers.referred_by) are not ordering constraints
    expect(plan.tables.find((t) => t.name === "public.accounts")!.parents).toEqual(["public.tenants"]);
  });

  it("knows the sequences of identity columns, GENERATED ALWAYS included", async () => {
    const plan = await discover();
    const seq = (name: string) => plan.tables.find((t) => t.name === name)!.sequences.map((s) => s.column);
    expect(seq("public.journal_entries")).toEqual(["id"]);
    expect(seq("public.journal_lines")).toEqual(["id"]);
    expect(seq("public.invoices")).toEqual(["id"]);
    expect(seq("public.tenants")).toEqual([]);
  });

  it("never looks in excluded schemas, even when asked to", async () => {
    const plan = await discover({ schemas: ["public", "backup"] });
    expect(plan.tables.map((t) => t.name)).not.toContain("backup.tenant_restores");
    const withBackup = await discover({ schemas: ["public", "backup"], excludeSchemas: [] });
    expect(withBackup.tables.map((t) => t.name)).toContain("backup.tenant_restores");
  });

  it("include and exclude narrow the exported tables", async () => {
    const only = await discover({ include: ["tenants", "public.users"] });
    expect(only.tables.map((t) => t.name)).toEqual(["public.tenants", "public.users"]);
    const withoutAttachments = await discover({ exclude: ["attachment*"] });
    expect(withoutAttachments.tables.map((t) => t.name)).not.toContain("public.attachments");
    expect(withoutAttachments.excluded).toEqual(["public.attachment_thumbnails", "public.attachments"]);
    const withoutInvoices = await discover({ exclude: ["invoices"] });
    expect(withoutInvoices.dependencies).toContain("public.invoices");
    expect(withoutInvoices.warnings.join("\n")).toMatch(/public\.invoice_lines references public\.invoices, which is excluded/);
    // the ownership chain still goes through the excluded table
    const attachments = withoutInvoices.tables.find((t) => t.name === "public.attachments")!;
    expect(attachments.filter.kind === "join" && attachments.filter.hops[0]!.parent).toBe("public.invoices");
  });

  it("gives a stable fingerprint that follows the columns", async () => {
    const a = await discover();
    const b = await discover();
    expect(a.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(b.fingerprint).toBe(a.fingerprint);
    await pool.query("ALTER TABLE products ADD COLUMN barcode text");
    try {
      expect((await discover()).fingerprint).not.toBe(a.fingerprint);
    } finally {
      await pool.query("ALTER TABLE products DROP COLUMN barcode");
    }
    expect((await discover()).fingerprint).toBe(a.fingerprint);
  });

  it("lists non-deferrable foreign keys without an index (slow deletes in replace restores)", async () => {
    const plan = await discover();
    const names = plan.unindexedForeignKeys.map((f) => `${f.table}(${f.columns.join(",")})`);
    expect(names).toContain("public.invoices(tenant_id,customer_id)");
    expect(names).toContain("public.invoice_lines(tenant_id,product_id)");
    // indexed ones are not listed: attachments.invoice_id has its own index; invoice_lines (tenant_id,
    // invoice_id) is served by UNIQUE (invoice_id, line_no); journal_lines (tenant_id, entry_id) by its index
    expect(names).not.toContain("public.attachments(invoice_id)");
    expect(names).not.toContain("public.invoice_lines(tenant_id,invoice_id)");
    expect(names).not.toContain("public.journal_lines(tenant_id,entry_id)");
    // tenant_id alone is covered by any index starting with it
    expect(names.filter((n) => n.endsWith("(tenant_id)"))).toEqual([]);
    expect(names.sort()).toMatchInlineSnapshot(`
      [
        "public.accounts(tenant_id,parent_id)",
        "public.audit_events(tenant_id,actor_id)",
        "public.customers(tenant_id,referred_by)",
        "public.invoice_lines(tenant_id,product_id)",
        "public.invoices(tenant_id,created_by)",
        "public.invoices(tenant_id,customer_id)",
        "public.journal_entries(tenant_id,source_invoice_id)",
        "public.journal_entries(tenant_id,source_payment_id)",
        "public.journal_lines(tenant_id,account_id)",
        "public.payments(tenant_id,invoice_id)",
      ]
    `);
    expect(names).not.toContain("public.payments(tenant_id,customer_id)");
    // the deferrable cycle is exempt
    expect(plan.unindexedForeignKeys.map((f) => f.constraint)).not.toContain("customers_default_invoice_fkey");
  });

  it("warns about tables outside the plan that reference tenant tables", async () => {
    await pool.query("CREATE TABLE backup.tenant_notes (tenant_id uuid REFERENCES public.tenants ON DELETE CASCADE)");
    try {
      const plan = await discover();
      expect(plan.externalReferences).toEqual([
        { table: "backup.tenant_notes", constraint: "tenant_notes_tenant_id_fkey", references: "public.tenants", onDelete: "cascade" },
      ]);
      expect(plan.warnings.join("\n")).toMatch(/backup\.tenant_notes is not exported but references public\.tenants \(ON DELETE CASCADE\)/);
    } finally {
      await pool.query("DROP TABLE backup.tenant_notes");
    }
  });

  it("formats the plan for people", async () => {
    const text = formatPlan(await discover());
    expect(text).toMatch(/public\.attachment_thumbnails +owned/);
    expect(text).toMatch(/partitioned \(4 partitions\)/);
    expect(text).toMatch(/generated: line_total/);
    expect(text).toMatch(/dependencies .*public\.currencies/);
  });
});

describe("discoverTenantPlan on other shapes", () => {
  beforeAll(async () => {
    await pool.query(`
      CREATE SCHEMA cyc;
      CREATE TABLE cyc.tenants (id text PRIMARY KEY);
      CREATE TABLE cyc.a (id int PRIMARY KEY, tenant_id text NOT NULL REFERENCES cyc.tenants, b_id int);
      CREATE TABLE cyc.b (id int PRIMARY KEY, tenant_id text NOT NULL REFERENCES cyc.tenants, a_id int REFERENCES cyc.a);
      ALTER TABLE cyc.a ADD CONSTRAINT a_b_fkey FOREIGN KEY (b_id) REFERENCES cyc.b;
      -- owned three hops away, through a nullable and a NOT NULL path
      CREATE TABLE cyc.c (id int PRIMARY KEY, b_id int NOT NULL REFERENCES cyc.b);
      CREATE TABLE cyc.d (id int PRIMARY KEY, c_id int NOT NULL REFERENCES cyc.c);
      CREATE TABLE cyc.e (id int PRIMARY KEY, d_id int NOT NULL REFERENCES cyc.d, maybe_a int REFERENCES cyc.a);
      CREATE TABLE cyc.f (id serial PRIMARY KEY, e_id int NOT NULL REFERENCES cyc.e);
      CREATE TABLE cyc.g (id int PRIMARY KEY, a_id int REFERENCES cyc.a);
    `);
  });

  it("refuses a cycle of non-deferrable foreign keys, naming the tables", async () => {
    const err = await discover({ schemas: ["cyc"] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "plan_cycle" });
    expect((err as Error).message).toMatch(/cyc\.a → cyc\.b/);
  });

  it("accepts the same cycle once one constraint is deferrable", async () => {
    await pool.query("ALTER TABLE cyc.a ALTER CONSTRAINT a_b_fkey DEFERRABLE");
    const plan = await discover({ schemas: ["cyc"] });
    expect(plan.tables.map((t) => t.name).slice(0, 3)).toEqual(["cyc.tenants", "cyc.a", "cyc.b"]);
    expect(plan.deferredConstraints).toEqual([{ table: "cyc.a", constraint: "a_b_fkey", references: "cyc.b" }]);
    // e is one hop from a, but through a nullable column: the NOT NULL chain through d, c, b wins
    const e = plan.tables.find((t) => t.name === "cyc.e")!;
    expect(e.filter.kind === "join" && e.filter.hops.map((h) => h.parent)).toEqual(["cyc.d", "cyc.c", "cyc.b"]);
    const f = plan.tables.find((t) => t.name === "cyc.f")!;
    expect(f.filter.kind === "join" && f.filter.hops.map((h) => h.parent)).toEqual(["cyc.e", "cyc.d", "cyc.c", "cyc.b"]);
    // g has only a nullable chain: taken, with a warning
    const g = plan.tables.find((t) => t.name === "cyc.g")!;
    expect(g.filter.kind === "join" && g.filter.hops.map((h) => h.parent)).toEqual(["cyc.a"]);
    expect(plan.warnings.join("\n")).toMatch(/cyc\.g: rows whose a_id is NULL belong to no tenant/);
    expect(f.sequences).toEqual([{ column: "id", sequence: "cyc.f_id_seq" }]);
  });

  it("says which root table is missing", async () => {
    await expect(discover({ rootTable: "organizations" })).rejects.toMatchObject({ code: "plan_root_missing" });
  });
});
