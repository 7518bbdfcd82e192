import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CONFIG_ERROR_CODES, ERROR_HTTP_STATUS, HesaabError } from "@hesaab/config";
import { DB_ERROR_CODES } from "@hesaab/db";
import { DR_ERROR_CODES } from "@hesaab/dr";
import { SESSION_ERROR_CODES } from "@hesaab/session";
import { TENANT_BACKUP_ERROR_CODES, TENANT_DATA_ERROR_CODES } from "@hesaab/tenant-backup";
import { raisedErrorCodes } from "@hesaab/testkit";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { DbError } from "@hesaab/db";
import {
  ERROR_MEANING,
  errorMeaning,
  API_ERROR_CODES,
  ApiError,
  trpcCodeOf,
  errorBodyOf,
  ERROR_BODY_CODES,
  REQUEST_ERROR_CODES,
  restStatusOf,
  apiErrorSchema,
} from "../src/errors";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const visible = new Set<string>([
  ...CONFIG_ERROR_CODES,
  ...DB_ERROR_CODES,
  ...SESSION_ERROR_CODES,
  ...TENANT_BACKUP_ERROR_CODES,
  ...TENANT_DATA_ERROR_CODES,
  ...DR_ERROR_CODES,
  ...API_ERROR_CODES,
]);

describe("the API's error list", () => {
  it("holds every code the API raises", () => {
    const raised = raisedErrorCodes(root, ["packages/api/src"]);
    expect(raised.map((r) => r.code)).toContain("export_role_required");
    expect(raised.filter((r) => !(API_ERROR_CODES as readonly string[]).includes(r.code))).toEqual([]);
  });

  it("maps only codes from the lists, by code and not by prefix", () => {
    expect(Object.keys(ERROR_MEANING).filter((code) => !visible.has(code))).toEqual([]);
    expect(errorMeaning(new ApiError({ code: "export_role_required", message: "m" }))).toBe("FORBIDDEN");
    expect(errorMeaning(new HesaabError({ code: "export_link_expired", message: "m" }))).toBe("GONE");
    expect(errorMeaning(new HesaabError({ code: "tenant_not_found", message: "m" }))).toBe("FORBIDDEN");
    // a code that merely looks like one of them means nothing
    expect(errorMeaning(new HesaabError({ code: "tenant_whatever", message: "m" }))).toBeUndefined();
    expect(errorMeaning(new HesaabError({ code: "toString", message: "m" }))).toBeUndefined();
    expect(errorMeaning(new Error("export_not_found"))).toBeUndefined();
  });

  it("answers downloads as they were answered before the list", () => {
    const status = (code: string) => ERROR_HTTP_STATUS[errorMeaning(new HesaabError({ code, message: "m" }))!];
    expect(
      Object.fromEntries(
        [
          "export_not_found",
          "export_expired",
          "export_link_expired",
          "export_download_limit",
          "export_file_missing",
          "export_not_ready",
          "export_failed",
          "database_busy",
        ].map((c) => [c, status(c)]),
      ),
    ).toEqual({
      export_not_found: 404,
      export_expired: 410,
      export_link_expired: 410,
      export_download_limit: 410,
      export_file_missing: 410,
      export_not_ready: 409,
      export_failed: 410,
      database_busy: 503,
    });
    expect(trpcCodeOf("GONE")).toBe("NOT_FOUND");
    expect(trpcCodeOf("TOO_MANY_REQUESTS")).toBe("TOO_MANY_REQUESTS");
  });

  it("makes a code outside the list a type error", () => {
    // @ts-expect-error: not one of the API's codes
    expect(new ApiError({ code: "export_role_requird", message: "m" }).code).toBe("export_role_requird");
  });

  it("gives one error shape: a HesaabError speaks for itself, tRPC's own codes map to the closed list, an unexpected failure is one sentence", () => {
    const wrapped = (err: unknown, code: TRPCError["code"] = "INTERNAL_SERVER_ERROR") => errorBodyOf(new TRPCError({ code, message: "m", cause: err }));
    expect(wrapped(new ApiError({ code: "export_role_required", message: "only owner", hint: "Ask an owner" }), "FORBIDDEN")).toEqual({
      code: "export_role_required",
      message: "only owner",
      hint: "Ask an owner",
      retryable: false,
    });
    // database_busy is retryable whatever the error says: nothing failed
    expect(wrapped(new DbError({ code: "database_busy", message: "busy" }), "SERVICE_UNAVAILABLE")).toMatchObject({ code: "database_busy", retryable: true });
    // a code outside the closed list is not passed on as a code
    expect(wrapped(new ApiError({ code: "no_such_code" as "export_role_required", message: "said" }))).toMatchObject({ code: "internal", message: "said" });
    expect(wrapped(new Error("select * from secrets"))).toEqual({
      code: "internal",
      message: "the request failed on our side; try again in a moment",
      hint: null,
      retryable: false,
    });
    expect(errorBodyOf(new TRPCError({ code: "UNAUTHORIZED", message: "sign in again" }))).toMatchObject({
      code: "unauthorized",
      hint: expect.stringMatching(/Bearer/) as string,
    });
    expect(errorBodyOf(new TRPCError({ code: "TOO_MANY_REQUESTS", message: "slow" }))).toMatchObject({ code: "rate_limited", retryable: true });
    expect(errorBodyOf(new TRPCError({ code: "NOT_IMPLEMENTED", message: "x" })).code).toBe("internal");
    const zodError = z.object({ backup_id: z.string() }).safeParse({}).error;
    expect(wrapped(zodError, "BAD_REQUEST")).toMatchObject({
      code: "invalid_input",
      message: expect.stringMatching(/^the request's input is not valid \(backup_id: /) as string,
    });
    for (const body of [wrapped(zodError, "BAD_REQUEST"), wrapped(new Error("x"))]) expect(apiErrorSchema.strict().parse(body)).toEqual(body);
  });

  it("keeps the closed list closed: every code an error body can carry, once; REST statuses by meaning", () => {
    expect(new Set(ERROR_BODY_CODES).size).toBe(ERROR_BODY_CODES.length);
    expect([...ERROR_BODY_CODES].sort()).toEqual([...visible, ...REQUEST_ERROR_CODES].filter((c, i, all) => all.indexOf(c) === i).sort());
    expect(restStatusOf({ code: "export_unavailable", message: "m", hint: null, retryable: false }, 404)).toBe(410);
    expect(restStatusOf({ code: "unauthorized", message: "m", hint: null, retryable: false }, 401)).toBe(401);
  });
});
