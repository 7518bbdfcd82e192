import { DrizzleQueryError } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { HesaabError } from "@hesaab/config";
import { errorMessage } from "../src/output";

describe("errorMessage", () => {
  it("prints a failed statement as the database's error and what to check, never its SQL or values", () => {
    const cause = Object.assign(new Error('relation "backup.backup_records" does not exist'), { code: "42P01" });
    const text = errorMessage(new DrizzleQueryError('update "backup"."backup_records" set "status" = $1', ["secret-value"], cause));
    expect(text).toBe(
      'error: the database refused the command: relation "backup.backup_records" does not exist [sqlstate 42P01]. a table or schema is missing: if it is the catalog\'s (schema backup), run `hesaab catalog migrate`',
    );
    expect(text).not.toMatch(/Failed query|update "backup"|secret-value/);
  });

  it("prints a HesaabError with its hint and code", () => {
    expect(errorMessage(new HesaabError({ code: "usage", message: "give tenant ids", hint: "See --help" }))).toBe("error: give tenant ids. See --help [usage]");
  });
});
