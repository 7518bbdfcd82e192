import { tracked, TRPCError } from "@trpc/server";
import { z } from "zod";
import { exportId } from "@hesaab/contracts";
import type { CustomerExportLinks } from "@hesaab/tenant-backup";
import { ApiError, errorMeaning, trpcCodeOf } from "../errors";
import { followOperation } from "../progress";
import { router, tenantProcedure, type Context } from "../trpc";
import { eventsOf, lastEventId } from "./progress";

/** The roles whose users may ask for a customer self-backup unless CUSTOMER_EXPORT_ROLES says otherwise. */
export const DEFAULT_EXPORT_ROLES = ["owner", "admin"] as const;

/** Why a tenant user's role may not ask for a customer self-backup, or undefined when it may. */
function exportRoleRefusal(ctx: Context, role: string): ApiError | undefined {
  const roles: readonly string[] = ctx.exportRoles ?? DEFAULT_EXPORT_ROLES;
  if (roles.includes(role)) return undefined;
  const allowed = roles.length > 0 ? roles.join(" or ") : "nobody";
  return new ApiError({
    code: "export_role_required",
    message: `only ${allowed} can ask for a copy of your organisation's data (your role is ${role})`,
    hint: roles.includes("owner") ? "Ask an owner of your organisation to prepare it" : `Ask a user whose role is ${allowed} to prepare it`,
  });
}

function exportsOf(ctx: Context): CustomerExportLinks {
  if (!ctx.exports) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "customer exports are not available on this gateway" });
  return ctx.exports;
}

/** A refusal the user can act on (the daily limit, a tenant that cannot export), by the API's code list (ERROR_MEANING), as its tRPC code with the message and `appCode`. */
function asTrpcError(err: unknown): unknown {
  const meaning = errorMeaning(err);
  return meaning ? new TRPCError({ code: trpcCodeOf(meaning), message: (err as ApiError).describe(), cause: err }) : err;
}

export const tenantRouter = router({
  /** Who the session names, and whether their role may ask for a self-backup (if not, the sentence that says why). */
  me: tenantProcedure.query(({ ctx }) => {
    const refusal = exportRoleRefusal(ctx, ctx.session.role);
    return {
      tenantId: ctx.session.tenantId,
      userId: ctx.session.userId,
      role: ctx.session.role,
      canExport: !refusal,
      exportRefusal: refusal?.describe() ?? null,
    };
  }),
  exports: router({
    list: tenantProcedure.query(({ ctx }) => exportsOf(ctx).list(ctx.session.tenantId)),
    request: tenantProcedure.mutation(async ({ ctx }) => {
      try {
        const refusal = exportRoleRefusal(ctx, ctx.session.role);
        if (refusal) throw refusal;
        return await exportsOf(ctx).request(ctx.session);
      } catch (err) {
        throw asTrpcError(err);
      }
    }),
    /**
     * One of the session's own exports being built, over SSE: rows and tables so far, then ready or
     * failed. Whose export it is comes from the catalog (the session tenant's exports), never from input.
     */
    progress: tenantProcedure.input(z.object({ exportId, lastEventId })).subscription(async function* ({ ctx, input, signal }) {
      const read = eventsOf(ctx);
      const own = await exportsOf(ctx).list(ctx.session.tenantId);
      if (!own.exports.some((e) => e.id === input.exportId)) {
        throw new TRPCError({ code: "NOT_FOUND", message: `export ${input.exportId} is not one of your organisation's exports` });
      }
      for await (const view of followOperation(read, { kind: "export", operationId: input.exportId, lastEventId: input.lastEventId, signal })) {
        yield tracked(view.id, view);
      }
    }),
  }),
});
