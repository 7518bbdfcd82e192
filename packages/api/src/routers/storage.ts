import { TRPCError } from "@trpc/server";
import { adminProcedure, router } from "../trpc";

export const storageRouter = router({
  analytics: adminProcedure.query(({ ctx }) => {
    if (!ctx.storage) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "storage analytics are not available on this gateway" });
    return ctx.storage();
  }),
});
