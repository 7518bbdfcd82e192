import { z } from "zod";
import { idSchema } from "./ids";

export const providerName = z.enum(["b2", "r2"]);
export type ProviderName = z.infer<typeof providerName>;
export const PROVIDERS: readonly ProviderName[] = providerName.options;

/** Tenant ids are the platform's (uuid in HesaabPlus); we accept any short, printable id. */
export const tenantId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:-]+$/, "must be a tenant id (letters, digits, _ . : -)");
export const backupId = idSchema("bkp");
export const restoreId = idSchema("rst");
export const exportId = idSchema("exp");
export const alertId = idSchema("alr");
export const backupType = z.enum(["tenant", "customer", "disaster"]);
export const backupPurpose = z.enum(["scheduled", "on_demand", "pre_restore"]);
export const actor = z.string().min(1).max(200);
export const isoTime = z.iso.datetime({ offset: true });
export const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "must be a hex SHA-256");

/** An error as it travels in events: a stable code, a message for people, whether retrying may help. */
export const errorInfo = z.object({
  code: z.string().min(1),
  message: z.string(),
  retryable: z.boolean().default(false),
});
export type ErrorInfo = z.infer<typeof errorInfo>;

export const providerOutcome = z.object({
  provider: providerName,
  ok: z.boolean(),
  error: z.string().optional(),
});
