// Procedures that start long work: one command on the bus for the service that owns it, an audit
// entry in the admin's name, and the operation's id to follow its outcome event by.
import { TRPCError } from "@trpc/server";
import { ID_PREFIXES, newId, type DataInput, type IdPrefix, type MessageType } from "@hesaab/contracts";
import { writeAudit, type AuditEntry } from "@hesaab/db";
import type { Context } from "./trpc";

/**
 * Publishes `type` with a fresh operation id (also the message id) and audits it. Without a bus the
 * procedure is SERVICE_UNAVAILABLE and nothing is audited: nothing was asked of anyone.
 */
export async function startOperation<T extends MessageType>(
  ctx: Context,
  o: {
    type: T;
    data: (operationId: string) => DataInput<T>;
    audit: Omit<AuditEntry, "details"> & { details?: Record<string, unknown> };
    /** The id's prefix when the command's contract wants its own kind of id (a restore: `rst`). */
    prefix?: IdPrefix;
  },
): Promise<{ operationId: string }> {
  if (!ctx.send) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "the event bus is not connected: the operation cannot be started" });
  const operationId = newId(o.prefix ?? ID_PREFIXES.operation);
  await ctx.send(o.type, o.data(operationId), { msgId: operationId });
  await writeAudit(ctx.db, { ...o.audit, details: { ...o.audit.details, operationId } });
  return { operationId };
}
