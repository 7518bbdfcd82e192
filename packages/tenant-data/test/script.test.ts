import { describe, expect, it } from "vitest";
import { ScriptReader, compatibleType, parseCopyLine, stripFields } from "../src/index";

const manifest = {
  format: "hesaab-tenant-sql",
  version: 1,
  tenantId: "t1",
  backupId: "bkp_x",
  createdAt: "2026-01-01T00:00:00.000Z",
  schemaFingerprint: "f",
  tenantColumn: "tenant_id",
  tables: [
    { name: "public.a", columns: ["id", "note"], types: ["integer", "text"] },
    { name: "public.b", columns: ["id", "group"], types: ["integer", "text"] },
  ],
  dependencies: [],
};

// data lines that look like the end of a block but are not: escaped backslashes, \. inside a value
const A_DATA = "1\t\\\\.\n2\tbefore\\n\\\\.\\nafter\n3\t\\.x\n4\t\\N\n5\t\\\\\n";
const SCRIPT = [
  "-- HesaabPlus tenant backup (hesaab-tenant-sql v1). Load with: psql -v ON_ERROR_STOP=1 -f <file>",
  `-- manifest: ${JSON.stringify(manifest)}`,
  "SET client_encoding = 'UTF8';",
  "SET standard_conforming_strings = on;",
  "BEGIN;",
  "SET CONSTRAINTS ALL DEFERRED;",
  "COPY public.a (id, note) FROM stdin;",
  A_DATA + "\\.",
  'COPY public.b (id, "group") FROM stdin;',
  "\\.",
  "COMMIT;",
  '-- rows: {"public.a":5,"public.b":0}',
  "",
].join("\n");

async function readAll(source: Iterable<Buffer>): Promise<unknown[]> {
  const reader = new ScriptReader(source);
  const out: unknown[] = [];
  for await (const e of reader.events()) {
    if (e.kind === "copy") {
      const parts: Buffer[] = [];
      for await (const d of e.data) parts.push(d);
      out.push({ copy: e.header, data: Buffer.concat(parts).toString("utf8") });
    } else out.push(e);
  }
  return out;
}

function split(buf: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let last = 0;
  for (const c of cuts) {
    out.push(buf.subarray(last, c));
    last = c;
  }
  out.push(buf.subarray(last));
  return out;
}

describe("ScriptReader", () => {
  const whole = Buffer.from(SCRIPT, "utf8");

  it("reads the manifest, the blocks byte for byte, COMMIT and the row counts", async () => {
    const events = await readAll([whole]);
    expect(events).toEqual([
      { kind: "manifest", manifest },
      { copy: { table: "public.a", columns: ["id", "note"] }, data: A_DATA },
      { copy: { table: "public.b", columns: ["id", "group"] }, data: "" },
      { kind: "commit" },
      { kind: "rows", rows: { "public.a": 5, "public.b": 0 } },
    ]);
  });

  it("gives the same events whatever the chunk boundaries (every single cut, and every pair near the ends of blocks)", async () => {
    const expected = await readAll([whole]);
    for (let i = 0; i <= whole.length; i++) expect(await readAll(split(whole, [i])), `cut at ${i}`).toEqual(expected);
    const end = whole.indexOf("\\.\nCOPY");
    for (let i = end - 4; i <= end + 4; i++) {
      for (let j = i; j <= end + 6; j++) expect(await readAll(split(whole, [i, j])), `cuts at ${i}, ${j}`).toEqual(expected);
    }
    const bytes = [...whole].map((b) => Buffer.from([b]));
    expect(await readAll(bytes)).toEqual(expected);
  });

  it("says truncated when a block has no end, and refuses statements a script never holds", async () => {
    const cut = whole.subarray(0, whole.indexOf("3\t"));
    await expect(readAll([cut])).rejects.toMatchObject({ code: "restore_truncated" });
    await expect(readAll([Buffer.from(SCRIPT.replace("BEGIN;", "DROP TABLE x;"))])).rejects.toMatchObject({ code: "restore_bad_script" });
    await expect(readAll([Buffer.from("PK\u0003\u0004 not a script")])).rejects.toMatchObject({ code: "restore_bad_script" });
    await expect(readAll([Buffer.from(SCRIPT.replace('"version":1', '"version":2'))])).rejects.toMatchObject({ code: "restore_bad_script" });
  });
});

describe("parseCopyLine", () => {
  it("reads quoted and unquoted identifiers", () => {
    expect(parseCopyLine('COPY public.products (id, "group", "Odd ""name""", name) FROM stdin;')).toEqual({
      table: "public.products",
      columns: ["id", "group", 'Odd "name"', "name"],
    });
    expect(parseCopyLine('COPY "My Schema"."T" (a) FROM stdin;')).toEqual({ table: "My Schema.T", columns: ["a"] });
    expect(parseCopyLine("COPY public.t (a) FROM stdin")).toBeNull();
    expect(parseCopyLine("COPY public.t (a) FROM '/etc/passwd';")).toBeNull();
    expect(parseCopyLine("COPY t (a) FROM stdin;")).toBeNull();
  });
});

describe("compatibleType", () => {
  it("accepts the same type and widenings", () => {
    for (const [from, to] of [
      ["bigint", "bigint"],
      ["smallint", "integer"],
      ["integer", "bigint"],
      ["integer", "numeric"],
      ["integer", "numeric(12,2)"],
      ["numeric(18,2)", "numeric(20,4)"],
      ["numeric(18,2)", "numeric"],
      ["character varying(20)", "character varying(40)"],
      ["character varying(20)", "text"],
      ["text", "character varying"],
      ["integer[]", "bigint[]"],
      ["real", "double precision"],
      ["json", "jsonb"],
      ["timestamp(3) with time zone", "timestamp with time zone"],
      ["public.tenant_status", "public.tenant_status"],
    ]) {
      expect(compatibleType(from!, to!), `${from} → ${to}`).toBe(true);
    }
  });

  it("refuses narrowings and other changes", () => {
    for (const [from, to] of [
      ["bigint", "integer"],
      ["integer", "numeric(8,2)"],
      ["numeric(18,2)", "numeric(18,1)"],
      ["numeric(18,2)", "numeric(19,4)"],
      ["numeric", "numeric(30,10)"],
      ["text", "character varying(5)"],
      ["character varying(40)", "character varying(20)"],
      ["text", "integer"],
      ["uuid", "text[]"],
      ["timestamp without time zone", "timestamp with time zone"],
      ["jsonb", "json"],
      ["public.tenant_status", "text"],
    ]) {
      expect(compatibleType(from!, to!), `${from} → ${to}`).toBe(false);
    }
  });
});

describe("stripFields", () => {
  it("cuts fields out by raw tab bytes (escaped tabs stay inside values)", () => {
    const lines = Buffer.from("1\ta\\tb\tx\n2\t\\N\ty\\ny\n");
    expect(stripFields(lines, [true, false, true]).toString()).toBe("1\tx\n2\ty\\ny\n");
    expect(stripFields(lines, [false, true, false]).toString()).toBe("a\\tb\n\\N\n");
    expect(() => stripFields(Buffer.from("1\t2\n"), [true, true, true])).toThrow(/fewer fields/);
    expect(() => stripFields(Buffer.from("1\t2\t3\t4\n"), [true, true, true])).toThrow(/more fields/);
  });
});
