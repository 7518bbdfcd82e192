import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { API_ERROR_CODES } from "@hesaab/api";
import { ARTIFACTS_ERROR_CODES } from "@hesaab/artifacts";
import { BUS_ERROR_CODES } from "@hesaab/bus";
import { CONFIG_ERROR_CODES } from "@hesaab/config";
import { CRYPTO_ERROR_CODES } from "@hesaab/crypto";
import { DB_ERROR_CODES } from "@hesaab/db";
import { DR_ERROR_CODES } from "@hesaab/dr";
import { DRILL_ERROR_CODES } from "@hesaab/drills";
import { PLATFORM_ERROR_CODES } from "@hesaab/platform";
import { SESSION_ERROR_CODES } from "@hesaab/session";
import { STACK_ERROR_CODES } from "@hesaab/stack";
import { STORAGE_ERROR_CODES } from "@hesaab/storage";
import { STORAGE_OPS_ERROR_CODES } from "@hesaab/storage-ops";
import { TENANT_BACKUP_ERROR_CODES } from "@hesaab/tenant-backup";
import { TENANT_DATA_ERROR_CODES } from "@hesaab/tenant-data";
import { raisedErrorCodes } from "@hesaab/testkit";
import { CLI_ERROR_CODES } from "../src/errors";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** Every package's list (the CLI reaches all of them), and the CLI's own. */
const LISTS: Record<string, readonly string[]> = {
  api: API_ERROR_CODES,
  artifacts: ARTIFACTS_ERROR_CODES,
  bus: BUS_ERROR_CODES,
  config: CONFIG_ERROR_CODES,
  crypto: CRYPTO_ERROR_CODES,
  db: DB_ERROR_CODES,
  dr: DR_ERROR_CODES,
  drills: DRILL_ERROR_CODES,
  platform: PLATFORM_ERROR_CODES,
  session: SESSION_ERROR_CODES,
  stack: STACK_ERROR_CODES,
  storage: STORAGE_ERROR_CODES,
  "storage-ops": STORAGE_OPS_ERROR_CODES,
  "tenant-backup": TENANT_BACKUP_ERROR_CODES,
  "tenant-data": TENANT_DATA_ERROR_CODES,
  cli: CLI_ERROR_CODES,
};

describe("error code lists", () => {
  it("hold every code the packages and the CLI raise", () => {
    const known = new Set(Object.values(LISTS).flat());
    const raised = raisedErrorCodes(root, ["packages/*/src", "apps/cli/src"]);
    // the scan must find what it looks for, or it proves nothing
    expect(raised).toContainEqual({ file: "packages/tenant-backup/src/customer-export.ts", code: "export_daily_limit" });
    expect(raised.length).toBeGreaterThan(100);
    expect(raised.filter((r) => !known.has(r.code))).toEqual([]);
  });

  it("name every code in the package that raises it", () => {
    const unlisted = raisedErrorCodes(root, ["packages/*/src"]).filter(({ file, code }) => {
      const pkg = file.split("/")[1]!;
      // artifacts, storage-ops and tenant-backup raise storage's and config's codes as well as their own
      const lists = [LISTS[pkg] ?? [], CONFIG_ERROR_CODES, ...(["artifacts", "storage-ops"].includes(pkg) ? [STORAGE_ERROR_CODES] : [])];
      return !lists.some((l) => l.includes(code));
    });
    expect(unlisted).toEqual([]);
  });
});
