import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase, type FreshDatabase } from "@hesaab/testkit";
import { compareWithManifest, connect, countRows, dumpDatabase, restoreDump, userObjects, type DrManifest } from "../src";

let source: FreshDatabase;
let dir: string;

beforeAll(async () => {
  source = await freshDatabase("dr_tools_src");
  dir = await mkdtemp(path.join(os.tmpdir(), "dr-tools-"));
  const c = await connect(source.url);
  await c.query(`create table t (id int primary key, note text); insert into t select g, 'row ' || g from generate_series(1, 500) g;
                 create table p (k int, v text) partition by range (k);
                 create table p1 partition of p for values from (0) to (100);
                 create table p2 partition of p default;
                 insert into p select g, 'x' from generate_series(1, 300) g;`);
  await c.end();
});
afterAll(async () => {
  await source.drop();
  await rm(dir, { recursive: true, force: true });
});

describe("pg tools", () => {
  it("dumps, restores and matches counts; partitions counted through their parent", async () => {
    const file = path.join(dir, "db.dump");
    await pipeline(dumpDatabase({ url: source.url }), createWriteStream(file));
    const target = await freshDatabase("dr_tools_dst");
    try {
      const empty = await connect(target.url);
      expect(await userObjects(empty)).toEqual([]);
      await empty.end();
      await restoreDump({ file, targetUrl: target.url, jobs: 2 });
      const src = await connect(source.url);
      const tables = await countRows(src);
      await src.end();
      expect(tables).toEqual({ "public.p": 300, "public.t": 500 });
      const manifest = { tables } as DrManifest;
      const dst = await connect(target.url);
      expect((await compareWithManifest(dst, manifest)).ok).toBe(true);
      await dst.query("delete from t where id < 3");
      const after = await compareWithManifest(dst, manifest);
      expect(after.ok).toBe(false);
      expect(after.tables.find((t) => t.table === "public.t")).toMatchObject({ expected: 500, actual: 498, ok: false });
      await dst.end();
    } finally {
      await target.drop();
    }
  });

  it("errors the stream when pg_dump fails, naming the database without its password", async () => {
    const stream = dumpDatabase({ url: "postgres://postgres:pw@127.0.0.1:5432/does_not_exist_db" });
    await expect(pipeline(stream, createWriteStream(path.join(dir, "bad.dump")))).rejects.toThrow(
      /pg_dump of postgres:\/\/postgres:\*\*redacted\*\*@127\.0\.0\.1:5432\/does_not_exist_db failed/,
    );
  });
});
