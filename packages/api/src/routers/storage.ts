import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { adminProcedure, router } from "../trpc";

/** What `storageView` gives, as the REST path's document states it. */
const storageViewSchema = z
  .object({
    at: z.string(),
    currency: z.string(),
    providers: z.array(
      z.object({ provider: z.string(), bytes: z.number(), objects: z.number(), backups: z.number(), monthlyCost: z.number(), bytesPerDay: z.number() }),
    ),
    byType: z.array(z.object({ type: z.string(), provider: z.string(), bytes: z.number(), backups: z.number() })),
    topTenants: z
      .array(z.object({ tenantId: z.string(), bytes: z.number(), backups: z.number() }))
      .describe("The tenants that take the most room, largest first"),
    monthlyTotal: z.number(),
    projection: z.array(z.object({ months: z.number(), monthlyTotal: z.number() })),
    growth: z
      .array(z.object({ day: z.string(), provider: z.string(), bytes: z.number(), objects: z.number() }))
      .describe("Per provider, per day (UTC): the day's last usage sample, oldest first"),
  })
  .meta({ id: "StorageStatus" });

export const storageRouter = router({
  analytics: adminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/api/super-admin/storage/status",
        tags: ["Super admin: storage"],
        summary: "Storage usage and monthly cost per provider",
      },
    })
    .output(storageViewSchema)
    .query(({ ctx }) => {
      if (!ctx.storage) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "storage analytics are not available on this gateway" });
      return ctx.storage();
    }),
});
