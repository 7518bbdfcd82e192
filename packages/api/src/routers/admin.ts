import { adminProcedure, router } from "../trpc";

export const adminRouter = router({
  me: adminProcedure.query(({ ctx }) => ({ userId: ctx.admin.userId, role: ctx.admin.role })),
});
