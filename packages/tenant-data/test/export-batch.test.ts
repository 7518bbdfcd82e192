import { describe, expect, it } from "vitest";
import { RowChecksum, rowChecksumOf } from "../src/checksum";
import { RowRouter, TooLarge, type Pending } from "../src/export-batch";

const pending = (tenantId: string): Pending => ({
  tenantId,
  backupId: "bkp_x",
  pieces: [],
  bytes: 0,
  tables: [{ name: "public.t", rows: 0, bytes: 0, sum: new RowChecksum() }],
});

describe("RowRouter", () => {
  const output = Buffer.from("a\t1\tx\\ty\nb\t2\tشرکت\na\t3\t\\N\na\t4\t\nb\t5\tz\n", "utf8");

  it("routes rows to their tenant without the key, whatever the chunk boundaries", () => {
    for (let size = 1; size <= output.length; size++) {
      const byKey = new Map([
        ["a", pending("a")],
        ["b", pending("b")],
      ]);
      const router = new RowRouter(byKey, 1 << 20);
      for (let at = 0; at < output.length; at += size) router.push(output.subarray(at, at + size));
      router.end();
      expect(Buffer.concat(byKey.get("a")!.pieces).toString("utf8"), `size ${size}`).toBe("1\tx\\ty\n3\t\\N\n4\t\n");
      expect(Buffer.concat(byKey.get("b")!.pieces).toString("utf8")).toBe("2\tشرکت\n5\tz\n");
      expect(byKey.get("a")!.tables[0]).toMatchObject({ rows: 3 });
      expect(byKey.get("b")!.tables[0]).toMatchObject({ rows: 2, bytes: Buffer.byteLength("2\tشرکت\n5\tz\n") });
      // a batch's per-tenant checksum is the one a single export computes over the same rows
      expect(byKey.get("a")!.tables[0]!.sum.digest()).toBe(rowChecksumOf("1\tx\\ty\n3\t\\N\n4\t\n"));
    }
  });

  it("refuses a row of a tenant outside the batch, a row without a key, and output cut mid-row", () => {
    const router = () => new RowRouter(new Map([["a", pending("a")]]), 1 << 20);
    expect(() => router().push(Buffer.from("c\t1\n"))).toThrow(/outside the batch/);
    expect(() => router().push(Buffer.from("a1\n"))).toThrow(/without its tenant key/);
    const cut = router();
    cut.push(Buffer.from("a\t1\na\t2"));
    expect(() => cut.end()).toThrow(/middle of a row/);
  });

  it("stops at the tenant that passes the size limit", () => {
    const router = new RowRouter(
      new Map([
        ["a", pending("a")],
        ["b", pending("b")],
      ]),
      10,
    );
    router.push(Buffer.from("a\t1234\nb\t12345678\n"));
    expect(() => router.push(Buffer.from("a\t12345\n"))).toThrow(TooLarge);
  });
});
