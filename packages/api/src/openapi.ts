// The REST door's document: the procedures that carry an `openapi` meta (full paths, /api/...), as
// trpc-to-openapi states them, with every error answer stated as the API's one error shape.
import { generateOpenApiDocument, type OpenAPIObject } from "trpc-to-openapi";
import { apiErrorSchema } from "./errors";
import { appRouter } from "./router";

/** The error statuses every protected path may answer with, besides the ones trpc-to-openapi lists. */
const ERROR_STATUSES: Record<string, string> = {
  "401": "No session, or not a valid one (missing, expired, revoked, signed for the other app)",
  "403": "The session may not do this (the wrong kind of session, role or tenant)",
  "429": "Too many requests, or a daily limit (Retry-After says when to try again, when it is retryable)",
  "500": "A failure on our side",
  "503": "Not available right now (retryable; see Retry-After)",
};

const ERROR_REF = { $ref: "#/components/schemas/Error" };

/**
 * The OpenAPI 3.1 document of the REST paths. `baseUrl` is where the gateway is reached (its origin);
 * sessions are `Authorization: Bearer <JWT>`, the same JWTs the apps use.
 */
export function openApiDocument(o: { baseUrl: string; version?: string }): OpenAPIObject {
  const doc = generateOpenApiDocument(appRouter, {
    title: "HesaabPlus Backup API",
    description:
      "Backups, restores, disaster recovery, storage and the tenant's self-backups. Send a session JWT as `Authorization: Bearer <JWT>`: " +
      "`aud` hesaab-admin (role super_admin) for /api/super-admin/..., `aud` hesaab-tenant for /api/tenant/.... " +
      "Every error answer is one shape (Error): a code from a closed list, a sentence, a hint, and whether to retry.",
    version: o.version ?? "1.0.0",
    baseUrl: o.baseUrl,
    securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
    defs: { Error: apiErrorSchema },
  });
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(item as Record<string, { responses?: Record<string, unknown> }>)) {
      if (!op.responses) continue;
      for (const [status, description] of Object.entries(ERROR_STATUSES)) op.responses[status] ??= { description };
      for (const [status, response] of Object.entries(op.responses)) {
        if (status.startsWith("2")) continue;
        const description = (response as { description?: string }).description ?? "An error";
        op.responses[status] = { description, content: { "application/json": { schema: ERROR_REF } } };
      }
    }
  }
  // trpc-to-openapi's own error schemas are replaced by Error above
  const schemas = doc.components?.schemas ?? {};
  for (const id of Object.keys(schemas)) if (id.startsWith("error.")) delete schemas[id];
  return doc;
}
