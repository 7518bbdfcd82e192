// The REST door: the design document's paths (/api/super-admin/..., /api/tenant/backup/...) served
// from the same procedures as tRPC (their `openapi` meta, full paths), with the same context, so the
// same sessions, checks and errors; the OpenAPI document and its reference page beside them.
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { createOpenApiNodeHttpHandler } from "trpc-to-openapi";
import { appRouter, openApiDocument, requestError, restStatusOf, type ApiErrorBody, type Context } from "@hesaab/api";

/** Where the reference page's assets are (swagger-ui-dist, served from this machine: browsers here reach no CDN). */
const swaggerUiDir = path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

/** Seconds a retryable refusal asks the caller to wait, when nothing more precise is known. */
const RETRY_AFTER_S = 5;

/** The reference page: swagger-ui's own files, and a start script of ours (no inline script: the page's CSP allows none). */
const DOCS_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>HesaabPlus Backup API</title>
    <link rel="stylesheet" href="/api/docs/assets/swagger-ui.css" />
    <link rel="icon" type="image/png" href="/api/docs/assets/favicon-32x32.png" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/api/docs/assets/swagger-ui-bundle.js"></script>
    <script src="/api/docs/start.js"></script>
  </body>
</html>
`;

const DOCS_START = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
`;

/**
 * Mounts the REST paths under /api, `/api/openapi.json` and the reference page at `/api/docs`.
 * `contextOf` is the tRPC mount's own (the session from `Authorization: Bearer`), so a REST call is
 * the procedure's call.
 */
export async function mountRest(app: FastifyInstance, o: { contextOf: (req: FastifyRequest) => Context }): Promise<void> {
  // the handler is given Node's request; the context is built from Fastify's, as for tRPC
  const requests = new WeakMap<IncomingMessage, FastifyRequest>();
  const handle = createOpenApiNodeHttpHandler<typeof appRouter, RawRequest, ServerResponse>({
    router: appRouter,
    createContext: ({ req }) => o.contextOf(requests.get(req)!),
  });

  app.get("/api/openapi.json", async (req) => openApiDocument({ baseUrl: `${req.protocol}://${req.host}` }));
  app.get("/api/docs", async (_req, reply) => reply.redirect("/api/docs/"));
  app.get("/api/docs/", async (_req, reply) => reply.type("text/html; charset=utf-8").send(DOCS_PAGE));
  app.get("/api/docs/start.js", async (_req, reply) => reply.type("text/javascript; charset=utf-8").send(DOCS_START));
  await app.register(fastifyStatic, { root: swaggerUiDir, prefix: "/api/docs/assets/", decorateReply: false, allowedPath: (p) => !p.endsWith(".map") });

  app.route({
    method: ["GET", "POST", "PUT", "PATCH", "DELETE"],
    url: "/api/*",
    handler: async (req, reply) => {
      // a POST without a body is one with no input (`curl -X POST`): JSON's empty object
      if (req.body === undefined && req.headers["content-type"] === undefined && req.method !== "GET") req.raw.headers["content-type"] = "application/json";
      requests.set(req.raw, req);
      const answer = await callProcedure(handle, req, reply);
      if (!answer) return sendError(reply, requestError("not_found", `nothing is served at ${req.method} ${req.url.split("?")[0]}`), 404);
      if (answer.status < 400) return reply.code(answer.status).type("application/json; charset=utf-8").send(answer.body);
      return sendError(reply, errorOf(answer), answer.status);
    },
  });
}

/** A REST refusal: the error shape as the body, its status, and Retry-After when it is worth trying again. */
export function sendError(reply: FastifyReply, body: ApiErrorBody, fallbackStatus: number): FastifyReply {
  if (body.retryable && !reply.hasHeader("retry-after")) reply.header("retry-after", String(RETRY_AFTER_S));
  return reply.code(restStatusOf(body, fallbackStatus)).type("application/json; charset=utf-8").send(body);
}

type RawRequest = IncomingMessage & { body?: unknown; query?: unknown };

interface Answer {
  status: number;
  body: string;
}

/**
 * Runs trpc-to-openapi's handler on the request as Fastify parsed it (its body and query), the URL as
 * it came (the meta paths are full paths), collecting the answer so that errors can be reshaped;
 * undefined when no procedure is served at the path.
 */
function callProcedure(
  handle: (req: RawRequest, res: ServerResponse, next: () => void) => Promise<void>,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<Answer | undefined> {
  return new Promise<Answer | undefined>((resolve, reject) => {
    const raw: RawRequest = Object.assign(req.raw, { query: req.query }, req.body === undefined ? {} : { body: req.body });
    let status = 200;
    const res = {
      get statusCode() {
        return status;
      },
      set statusCode(code: number) {
        status = code;
      },
      // the handler's own headers are its content type (ours is set on send)
      setHeader: () => res,
      end: (body?: string) => resolve({ status, body: body ?? "null" }),
      once: reply.raw.once.bind(reply.raw),
      off: reply.raw.off.bind(reply.raw),
      get writableEnded() {
        return reply.raw.writableEnded;
      },
    };
    // no procedure has this path and method
    handle(raw, res as unknown as ServerResponse, () => resolve(undefined)).catch(reject);
  });
}

/** The error shape the procedure's errorFormatter put in `data.error` (the REST handler's body spreads the tRPC error shape). */
function errorOf(answer: Answer): ApiErrorBody {
  const parsed = JSON.parse(answer.body) as { message?: string; data?: { error?: ApiErrorBody } };
  if (parsed.data?.error) return parsed.data.error;
  return requestError("internal", parsed.message ?? "the request failed");
}
