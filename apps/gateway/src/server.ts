import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from "@trpc/server/adapters/fastify";
import Fastify, { type FastifyInstance } from "fastify";
import { isHesaabError } from "@hesaab/config";
import { appRouter, type AppRouter, type Context } from "./router";

const appsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** What a refusal of a download link means in HTTP. */
const DOWNLOAD_STATUS: Record<string, number> = { export_not_found: 404, export_expired: 410, export_link_expired: 410, export_not_ready: 409, export_failed: 410 };

/**
 * Builds the HTTP surface: tRPC under /trpc, the admin SPA under /admin, the tenant SPA under /app,
 * and the customer self-backup links under /exports.
 */
export async function buildServer(ctx: Omit<Context, "sessionToken">): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, routerOptions: { maxParamLength: 5000 } });
  // The apps keep a session in sessionStorage: no script but ours, no framing, no referrer to leak a link.
  app.addHook("onSend", async (_req, reply, payload) => {
    reply.header("x-content-type-options", "nosniff").header("referrer-policy", "no-referrer").header("x-frame-options", "DENY");
    if (String(reply.getHeader("content-type") ?? "").startsWith("text/html")) reply.header("content-security-policy", CSP);
    return payload;
  });
  await app.register(fastifyTRPCPlugin, {
    prefix: "/trpc",
    trpcOptions: {
      router: appRouter,
      createContext: ({ req }): Context => {
        const auth = req.headers.authorization;
        return { ...ctx, ...(auth?.startsWith("Bearer ") ? { sessionToken: auth.slice("Bearer ".length).trim() } : {}) };
      },
    } satisfies FastifyTRPCPluginOptions<AppRouter>["trpcOptions"],
  });
  // A signed link that expires within minutes (see gateway.ts): checked, then the export's own token opens it.
  app.get<{ Params: { tenantId: string; exportId: string }; Querystring: { token?: string } }>("/exports/:tenantId/:exportId/download", async (req, reply) => {
    if (!ctx.exports) return reply.code(503).send({ error: "exports_unavailable", message: "customer exports are not available on this gateway" });
    try {
      const { fileName, stream } = await ctx.exports.open({ tenantId: req.params.tenantId, exportId: req.params.exportId, token: req.query.token ?? "" });
      return reply.header("content-type", "application/zip").header("content-disposition", `attachment; filename="${fileName}"`).header("cache-control", "no-store").send(stream);
    } catch (err) {
      const status = isHesaabError(err) ? DOWNLOAD_STATUS[err.code] : undefined;
      if (status && isHesaabError(err)) return reply.code(status).send({ error: err.code, message: err.describe() });
      // anything else is ours, and its text may name paths or hosts: logged, told as one sentence
      process.stderr.write(`${JSON.stringify({ level: "error", msg: "export download failed", error: err instanceof Error ? err.message : String(err) })}\n`);
      return reply.code(500).send({ error: "internal", message: "the download failed on our side; try again in a moment" });
    }
  });
  for (const [prefix, dir] of [["/admin/", "admin-web"], ["/app/", "tenant-web"]] as const) {
    const root = path.join(appsDir, dir, "dist");
    if (existsSync(root)) await app.register(fastifyStatic, { root, prefix, decorateReply: prefix === "/admin/" });
  }
  app.get("/", async (_req, reply) => reply.redirect("/admin/"));
  return app;
}
