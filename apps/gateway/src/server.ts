import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fastifyHelmet from "@fastify/helmet";
import fastifyRateLimit from "@fastify/rate-limit";
import fastifyStatic from "@fastify/static";
import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from "@trpc/server/adapters/fastify";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { appRouter, errorMeaning, hesaabErrorBody, requestError, type ApiErrorBody, type AppRouter, type Context } from "@hesaab/api";
import { ERROR_HTTP_STATUS, isHesaabError } from "@hesaab/config";
import type { ReadinessReport, ServiceMetrics } from "@hesaab/observability";
import { mountRest, sendError } from "./rest";

const here = path.dirname(fileURLToPath(import.meta.url));
const appsDir = path.resolve(here, "../..");
/** An SPA's built files: beside the bundle (dist/web/<app>, copied by the gateway's build) or in the workspace (apps/<app>/dist). */
const webRoot = (dir: string) => [path.join(here, "web", dir), path.join(appsDir, dir, "dist")].find((root) => existsSync(root));

/** The apps' pages: no script, style or connection but the gateway's own; no framing; no base or form elsewhere. */
const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
};

/** The most procedures one tRPC batch may carry (the SPAs' batch links send at most as many). */
export const TRPC_MAX_BATCH = 10;

/** Refusals that mean something is wrong on our side (the tenant gets the sentence; we get a log line). */
const LOGGED = new Set(["export_file_missing"]);

export interface ServerOptions {
  /** Fastify's own pino logger (named `gateway`; authorization headers and link tokens never logged). Default: level `info` on stdout. */
  logger?: { level?: string; stream?: NodeJS.WritableStream };
  /** Requests per minute to the tenant procedures (`/trpc/tenant.*`, `/api/tenant/...`) and the download route. Default: 60 per session or link, 300 per IP. */
  rateLimit?: { perSession: number; perIp: number };
  /** `/metrics`, `/healthz` and `/readyz` on the gateway's own port; without it only `/healthz` answers. */
  observability?: { metrics: ServiceMetrics; readiness: () => Promise<ReadinessReport> };
}

/** A request's URL with any `token=` value hidden (download links carry one), and a subscription's `connectionParams` (its session). */
export const redactUrl = (url: string): string => url.replace(/([?&](?:token|connectionParams)=)[^&]*/gi, "$1[redacted]");

/**
 * Builds the HTTP surface: tRPC under /trpc, the same procedures' REST paths under /api (with
 * /api/openapi.json and /api/docs), the admin SPA under /admin, the tenant SPA under /app, and the
 * customer self-backup links under /exports.
 */
export async function buildServer(ctx: Omit<Context, "sessionToken" | "log">, opts: ServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    routerOptions: { maxParamLength: 5000 },
    logger: {
      name: "gateway",
      level: opts.logger?.level ?? "info",
      ...(opts.logger?.stream ? { stream: opts.logger.stream } : {}),
      redact: { paths: ["req.headers.authorization", "req.headers.cookie", "headers.authorization"], censor: "[redacted]" },
      serializers: {
        req: (req: FastifyRequest) => ({ method: req.method, url: redactUrl(req.url), remoteAddress: req.ip }),
      },
    },
  });

  // The apps keep a session in sessionStorage: no script but ours, no framing, no referrer to leak a link.
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    frameguard: { action: "deny" },
    referrerPolicy: { policy: "no-referrer" },
  });
  // the policy is the pages' (as before helmet): a JSON answer or a ZIP has no scripts to hold back
  app.addHook("onSend", async (_req, reply, payload) => {
    if (!String(reply.getHeader("content-type") ?? "").startsWith("text/html")) reply.removeHeader("content-security-policy");
    return payload;
  });

  await limitRequests(app, opts.rateLimit ?? { perSession: 60, perIp: 300 });
  mountHealth(app, opts.observability);
  const metrics = opts.observability?.metrics;

  // the gateway's own refusals are in the API's one error shape too (`{ code, message, hint, retryable }`)
  app.setErrorHandler((err: FastifyError, req, reply) => {
    // a download that failed before its first byte had its ZIP headers set: the answer is JSON
    reply.removeHeader("content-disposition");
    if (isHesaabError(err, "database_busy")) return sendError(reply, hesaabErrorBody(err), 503);
    const status = err.statusCode ?? 500;
    // fastify's own refusals (a body it cannot parse, a wrong content type) are the client's to fix, and say nothing of ours
    if (status >= 400 && status < 500) return sendError(reply, requestError(status === 415 ? "unsupported_request" : "invalid_input", err.message), status);
    // anything else is ours, and its text may name paths, hosts or SQL: logged, told as one sentence
    req.log.error({ err }, "request failed");
    return sendError(reply, requestError("internal", "the request failed on our side; try again in a moment"), 500);
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, requestError("not_found", `nothing is served at ${req.method} ${redactUrl(req.url).split("?")[0]}`), 404),
  );

  const contextOf = (req: FastifyRequest): Context => {
    const auth = req.headers.authorization;
    return { ...ctx, log: req.log, ...(auth?.startsWith("Bearer ") ? { sessionToken: auth.slice("Bearer ".length).trim() } : {}) };
  };

  await app.register(fastifyTRPCPlugin, {
    prefix: "/trpc",
    trpcOptions: {
      router: appRouter,
      maxBatchSize: TRPC_MAX_BATCH,
      createContext: ({ req, info }): Context => {
        // EventSource cannot set headers: a subscription (SSE) may carry the session as a connection parameter instead; nothing else may
        const param = info.type === "subscription" ? info.connectionParams?.token : undefined;
        const context = contextOf(req);
        return context.sessionToken || !param ? context : { ...context, sessionToken: param };
      },
    } satisfies FastifyTRPCPluginOptions<AppRouter>["trpcOptions"],
  });
  // the design document's REST paths, from the same procedures and context; /api/openapi.json and /api/docs
  await mountRest(app, { contextOf });

  // A signed link that expires within minutes (`customerExportLinks` of @hesaab/tenant-backup): checked, then the export's own token opens it.
  app.get<{ Params: { tenantId: string; exportId: string }; Querystring: { token?: unknown } }>("/exports/:tenantId/:exportId/download", async (req, reply) => {
    if (!ctx.exports) return sendError(reply, requestError("unavailable", "customer exports are not available on this gateway"), 503);
    const token = req.query.token ?? "";
    if (typeof token !== "string") {
      return sendError(
        reply,
        { ...requestError("invalid_input", "the link's token must appear once"), hint: "Open My data again and use the link it gives" },
        400,
      );
    }
    let opened;
    try {
      opened = await ctx.exports.open({ tenantId: req.params.tenantId, exportId: req.params.exportId, token });
    } catch (err) {
      metrics?.exportsRefused.inc({ code: isHesaabError(err) ? err.code : "internal" });
      return refuseDownload(req, reply, err);
    }
    const { fileName, stream, delivered } = opened;
    let ended = false;
    stream.once("end", () => (ended = true));
    // counted and audited only once the whole ZIP, authenticated to its last chunk, was handed to the client;
    // a file that fails authentication half-way cuts the connection (fastify destroys it), so no reader takes a part for the whole
    reply.raw.once("finish", () => {
      if (!ended) return;
      metrics?.exportsServed.inc();
      delivered().catch((err: unknown) => req.log.error({ err, exportId: req.params.exportId }, "a delivered download was not counted"));
    });
    stream.once("error", (err: Error) => req.log.error({ err, exportId: req.params.exportId }, "export download failed while streaming"));
    return reply
      .header("content-type", "application/zip")
      .header("content-disposition", `attachment; filename="${fileName}"`)
      .header("cache-control", "no-store")
      .send(stream);
  });

  for (const [prefix, dir] of [
    ["/admin/", "admin-web"],
    ["/app/", "tenant-web"],
  ] as const) {
    const root = webRoot(dir);
    if (root) await app.register(fastifyStatic, { root, prefix, decorateReply: prefix === "/admin/" });
  }
  app.get("/", async (_req, reply) => reply.redirect("/admin/"));
  return app;
}

/**
 * Liveness, readiness and metrics on the gateway's port (the services open a port of their own for
 * them): `/healthz` alive, `/readyz` its dependencies (503 when not ready), `/metrics` Prometheus text.
 */
function mountHealth(app: FastifyInstance, obs: ServerOptions["observability"]): void {
  const quiet = { logLevel: "warn" as const }; // a scraper every 15 s is not worth an info line
  app.get("/healthz", quiet, async () => ({ status: "alive" }));
  if (!obs) return;
  app.get("/readyz", quiet, async (_req, reply) => {
    const report = await obs.readiness();
    return reply
      .code(report.status === "not_ready" ? 503 : 200)
      .header("cache-control", "no-store")
      .send(report);
  });
  app.get("/metrics", quiet, async (_req, reply) => {
    await obs.readiness(); // the dependency gauges say what the scrape saw
    return reply
      .header("content-type", obs.metrics.registry.contentType)
      .header("cache-control", "no-store")
      .send(await obs.metrics.text());
  });
}

/** A download refused: what the tenant can act on as its status and sentence; anything else logged, told as one sentence without paths. */
function refuseDownload(req: FastifyRequest, reply: FastifyReply, err: unknown) {
  // what a refusal means in HTTP, by the gateway's list (ERROR_MEANING)
  const meaning = errorMeaning(err);
  if (meaning && isHesaabError(err)) {
    if (LOGGED.has(err.code)) req.log.error({ err: err.cause ?? err, code: err.code, exportId: err.context.exportId }, "export download refused");
    const body: ApiErrorBody = { ...hesaabErrorBody(err), retryable: err.retryable || meaning === "SERVICE_UNAVAILABLE" };
    return sendError(reply, body, ERROR_HTTP_STATUS[meaning]);
  }
  req.log.error({ err }, "export download failed");
  return sendError(reply, requestError("internal", "the download failed on our side; try again in a moment"), 500);
}

/** The tenant procedures of a request (`/trpc/a,b?batch=1` names several); none for any other path. */
function tenantProcedures(url: string): boolean {
  const [pathname] = url.split("?");
  if (!pathname!.startsWith("/trpc/")) return false;
  let paths: string;
  try {
    paths = decodeURIComponent(pathname!.slice("/trpc/".length));
  } catch {
    return true; // not a path tRPC can serve either: limited like one
  }
  return paths.split(",").some((p) => p.startsWith("tenant."));
}

/**
 * Rate limits (@fastify/rate-limit, in this process's memory) on what a tenant's users reach: the
 * tenant procedures (tRPC and REST, one count) and the download route, per minute, per session (a hash of its bearer token;
 * a download link's tenant and export) and per IP. Over either, 429 with a sentence and Retry-After.
 */
async function limitRequests(app: FastifyInstance, limits: { perSession: number; perIp: number }): Promise<void> {
  await app.register(fastifyRateLimit, { global: false });
  const timeWindow = 60_000;
  const bySession = app.createRateLimit({
    max: limits.perSession,
    timeWindow,
    keyGenerator: (req) => {
      const link = /^\/exports\/([^/?]+)\/([^/?]+)\//.exec(req.url);
      if (link) return `link:${link[1]}/${link[2]}`;
      const auth = req.headers.authorization ?? "";
      return `session:${createHash("sha256").update(auth).digest("base64url")}`;
    },
  });
  const byIp = app.createRateLimit({ max: limits.perIp, timeWindow, keyGenerator: (req) => `ip:${req.ip}` });
  app.addHook("onRequest", async (req, reply) => {
    const rest = req.url.toLowerCase().startsWith("/api/tenant/");
    if (!tenantProcedures(req.url) && !req.url.startsWith("/exports/") && !rest) return;
    const download = req.url.startsWith("/exports/");
    // without a session a request is refused anyway: its address alone limits it
    const session = download || req.headers.authorization ? [[bySession, download ? "this link" : "this session"] as const] : [];
    for (const [limiter, whose] of [[byIp, "this address"] as const, ...session]) {
      const r = await limiter(req);
      if (!r.isAllowed && r.isExceeded) {
        const message = `too many requests from ${whose}: try again in ${r.ttlInSeconds} s`;
        const body = requestError("rate_limited", message);
        reply.header("retry-after", String(r.ttlInSeconds));
        if (download || rest) return sendError(reply, body, 429);
        // in tRPC's own shape (one per procedure of a batch), so the apps show the sentence
        const refusal = { error: { message, code: -32029, data: { code: "TOO_MANY_REQUESTS", httpStatus: 429, appCode: body.code, error: body } } };
        reply.code(429);
        const [pathname, search = ""] = req.url.split("?");
        const batch = new URLSearchParams(search).get("batch") === "1";
        return reply.send(
          batch
            ? pathname!
                .slice("/trpc/".length)
                .split(",")
                .map(() => refusal)
            : refusal,
        );
      }
    }
  });
}
