import { tracked, TRPCError } from "@trpc/server";
import { z } from "zod";
import { tenantId } from "@hesaab/contracts";
import { followOperation, OPERATION_KINDS, type ReadEvents } from "../progress";
import { adminProcedure, router, type Context } from "../trpc";

export function eventsOf(ctx: Context): ReadEvents {
  if (!ctx.events) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "live progress needs the event bus, which is not connected" });
  return ctx.events;
}

/** A client's last event id: the stream sequence of the last view it got (tRPC fills it in on a reconnect). */
export const lastEventId = z
  .string()
  .regex(/^\d{1,20}$/, "an event id is a stream sequence")
  .optional();

export const progressRouter = router({
  /**
   * One operation's progress (a backup request, a restore, a disaster backup), over SSE: a view per
   * event, then the final outcome, then the subscription ends. Resumable: each view's id is its event's
   * stream sequence.
   */
  operation: adminProcedure
    .input(
      z.object({
        kind: z.enum(OPERATION_KINDS),
        operationId: z.string().min(1).max(64),
        /** Backups of several tenants: the tenants queued (`backups.create`'s answer), so the end is known. */
        tenantIds: z.array(tenantId).max(10_000).optional(),
        lastEventId,
      }),
    )
    .subscription(async function* ({ ctx, input, signal }) {
      const read = eventsOf(ctx);
      for await (const view of followOperation(read, { ...input, signal })) yield tracked(view.id, view);
    }),
});
