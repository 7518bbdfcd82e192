// The REST door's document: valid OpenAPI (checked by a validator of the spec's own JSON schema), every
// REST path of the design document ("API Endpoints") on it, and every error answer in the one shape.
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { ERROR_BODY_CODES } from "../src/errors";
import { openApiDocument } from "../src/openapi";

/** The design document's REST paths, as `METHOD path` (path parameters as the document names them). */
const DESIGN_PATHS = [
  "POST /api/super-admin/backups/tenant/{tenant_id}",
  "GET /api/super-admin/backups/tenant/{tenant_id}",
  "POST /api/super-admin/restore/tenant",
  "POST /api/super-admin/backups/disaster",
  "GET /api/super-admin/backups/disaster",
  "POST /api/super-admin/restore/disaster",
  "GET /api/super-admin/storage/status",
  "GET /api/super-admin/storage/verification",
  "POST /api/super-admin/storage/verify",
  "POST /api/tenant/backup/create",
  "GET /api/tenant/backup/status",
  "GET /api/tenant/backup/download/{backup_id}",
  "GET /api/tenant/backup/history",
];

/**
 * Paths whose procedures are built on other branches (restores and disaster recovery; backups and
 * verification). MERGER: once they are merged, empty this list; the test below fails until you do.
 */
const PENDING_MERGE: string[] = [];

/** Paths beyond the design document's list, each from an issue that asked for it. */
const EXTRA_PATHS = [
  "GET /api/super-admin/drills", // issue 17: restore drills' coverage and attested records
];

const doc = openApiDocument({ baseUrl: "http://gateway.test" });
const operations = Object.entries(doc.paths ?? {}).flatMap(([p, item]) =>
  Object.entries(item as Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>).map(([method, op]) => ({
    key: `${method.toUpperCase()} ${p}`,
    op,
  })),
);

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1 (the spec's JSON schema)", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc) as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    expect(doc.info).toMatchObject({ title: "HesaabPlus Backup API", version: "1.0.0" });
    expect(doc.components?.securitySchemes).toEqual({ bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } });
  });

  it("lists every REST path of the design document (those built on this branch), and nothing else", () => {
    const keys = operations.map((o) => o.key).sort();
    expect(keys).toEqual([...DESIGN_PATHS.filter((p) => !PENDING_MERGE.includes(p)), ...EXTRA_PATHS].sort());
  });

  it("has no path still pending a merge: move them over once merged", () => {
    // fails once the other branches are merged, so that the list above is the whole design document
    const present = new Set(operations.map((o) => o.key));
    expect(PENDING_MERGE.filter((p) => present.has(p))).toEqual([]);
  });

  it("states every error answer as the one shape (Error), whose codes are the closed list", () => {
    for (const { key, op } of operations) {
      expect(Object.keys(op.responses), key).toEqual(expect.arrayContaining(["200", "401", "403", "500", "503"]));
      for (const [status, response] of Object.entries(op.responses)) {
        if (status.startsWith("2")) continue;
        expect(response.content?.["application/json"]?.schema, `${key} ${status}`).toEqual({ $ref: "#/components/schemas/Error" });
      }
      // protected by the bearer scheme
      expect((op as { security?: unknown }).security, key).toEqual([{ bearer: [] }]);
    }
    const schema = doc.components?.schemas?.Error as { properties: Record<string, { enum?: string[] }>; required: string[] };
    expect(schema.required.sort()).toEqual(["code", "hint", "message", "retryable"]);
    expect(schema.properties.code!.enum).toEqual([...ERROR_BODY_CODES]);
    expect(Object.keys(doc.components?.schemas ?? {}).filter((id) => id.startsWith("error."))).toEqual([]);
  });
});
