import { describe, expect, it } from "vitest";
import { type PgCatalog, type CatalogTable, buildPlan, deleteSql, selectSql } from "../src/index";

let oid = 100;
function table(o: { schema: string; name: string; columns: [string, string, boolean?][]; extra?: Partial<CatalogTable> }): CatalogTable {
  const { schema, name, columns, extra } = o;
  return {
    oid: oid++,
    schema,
    name,
    sql: `${schema}.${name}`,
    partitioned: false,
    partitions: [],
    columns: columns.map(([n, type, notNull]) => ({ name: n, sql: n, type, notNull: notNull ?? true, generated: false })),
    sequences: [],
    indexes: [],
    ...extra,
  };
}

const tenants = table({
  schema: "s",
  name: "tenants",
  columns: [
    ["id", "uuid"],
    ["status", "text"],
  ],
});
const invoices = table({
  schema: "s",
  name: "invoices",
  columns: [
    ["id", "bigint"],
    ["tenant_id", "uuid"],
  ],
  extra: { indexes: [["tenant_id", "id"]] },
});
const files = table({
  schema: "s",
  name: "files",
  columns: [
    ["id", "uuid"],
    ["invoice_id", "bigint"],
  ],
});
const notes = table({
  schema: "s",
  name: "notes",
  columns: [
    ["id", "int"],
    ["tenant_ref", "uuid"],
  ],
});
const rates = table({ schema: "s", name: "rates", columns: [["code", "text"]] });
const catalog: PgCatalog = {
  tables: [tenants, invoices, files, notes, rates],
  foreignKeys: [
    {
      name: "inv_t",
      child: invoices.oid,
      parent: tenants.oid,
      parentName: "s.tenants",
      columns: ["tenant_id"],
      parentColumns: ["id"],
      deferrable: false,
      onDelete: "no action",
    },
    {
      name: "files_inv",
      child: files.oid,
      parent: invoices.oid,
      parentName: "s.invoices",
      columns: ["invoice_id"],
      parentColumns: ["id"],
      deferrable: false,
      onDelete: "no action",
    },
    {
      name: "notes_t",
      child: notes.oid,
      parent: tenants.oid,
      parentName: "s.tenants",
      columns: ["tenant_ref"],
      parentColumns: ["id"],
      deferrable: false,
      onDelete: "no action",
    },
    {
      name: "inv_rate",
      child: invoices.oid,
      parent: null,
      parentName: "other.rates",
      columns: ["id"],
      parentColumns: ["code"],
      deferrable: false,
      onDelete: "no action",
    },
  ],
};

describe("buildPlan and the SQL it leads to", () => {
  const plan = buildPlan(catalog, { schemas: ["s"] });

  it("classifies, orders and names dependencies outside the schemas", () => {
    expect(plan.tables.map((t) => [t.name, t.scope])).toEqual([
      ["s.tenants", "root"],
      ["s.invoices", "tenant"],
      ["s.files", "owned"],
      ["s.notes", "owned"],
    ]);
    expect(plan.globals).toEqual(["s.rates"]);
    expect(plan.dependencies).toEqual(["other.rates"]);
    expect(plan.unindexedForeignKeys.map((f) => f.constraint)).toEqual(["files_inv", "notes_t"]);
  });

  it("selects owned rows through joins, and straight through a reference to the root", () => {
    const t = (name: string) => plan.tables.find((x) => x.name === name)!;
    expect(selectSql({ plan, table: t("s.files"), tenant: "'x'" })).toBe(
      "SELECT t0.id, t0.invoice_id FROM s.files t0 JOIN s.invoices t1 ON t1.id = t0.invoice_id WHERE t1.tenant_id = 'x'",
    );
    expect(deleteSql({ plan, table: t("s.files"), tenant: "$1" })).toBe(
      "DELETE FROM s.files t0 USING s.invoices t1 WHERE t1.id = t0.invoice_id AND t1.tenant_id = $1",
    );
    expect(selectSql({ plan, table: t("s.notes"), tenant: "'x'" })).toBe("SELECT t0.id, t0.tenant_ref FROM s.notes t0 WHERE t0.tenant_ref = 'x'");
    expect(deleteSql({ plan, table: t("s.tenants"), tenant: "$1" })).toBe("DELETE FROM s.tenants t0 WHERE t0.id = $1");
  });

  it("honours include and exclude, and refuses an empty selection", () => {
    expect(buildPlan(catalog, { schemas: ["s"], exclude: ["files", "s.notes"] }).tables.map((t) => t.name)).toEqual(["s.tenants", "s.invoices"]);
    expect(() => buildPlan(catalog, { schemas: ["s"], include: ["nothing*"] })).toThrow(/no tenant table left/);
  });
});
