import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from "@trpc/server/adapters/fastify";
import Fastify, { type FastifyInstance } from "fastify";
import { appRouter, type AppRouter, type Context } from "./router";

const appsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Builds the HTTP surface: tRPC under /trpc, the admin SPA under /admin, the tenant SPA under /app. */
export async function buildServer(ctx: Context): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, routerOptions: { maxParamLength: 5000 } });
  await app.register(fastifyTRPCPlugin, {
    prefix: "/trpc",
    trpcOptions: { router: appRouter, createContext: () => ctx } satisfies FastifyTRPCPluginOptions<AppRouter>["trpcOptions"],
  });
  for (const [prefix, dir] of [["/admin/", "admin-web"], ["/app/", "tenant-web"]] as const) {
    const root = path.join(appsDir, dir, "dist");
    if (existsSync(root)) await app.register(fastifyStatic, { root, prefix, decorateReply: prefix === "/admin/" });
  }
  app.get("/", async (_req, reply) => reply.redirect("/admin/"));
  return app;
}
