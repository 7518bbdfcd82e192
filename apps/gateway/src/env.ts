import { z } from "zod";
import { envPieces, masterKeySet, parseEnv, Secret } from "@hesaab/config";

const schema = z.object({
  ...envPieces.platformDb,
  ...envPieces.catalogDb,
  ...envPieces.nats,
  ...envPieces.busPrefix,
  ...envPieces.dataDir,
  /** The platform's tenant column, as backup-svc discovers tenants with it ("back up now" checks ids against the same root table). */
  TENANT_COLUMN: envPieces.tenantBackup.TENANT_COLUMN,
  GATEWAY_HOST: z.string().default("127.0.0.1"),
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  /**
   * The secret HesaabPlus signs its tenant sessions with (at least 32 characters). Without it the
   * tenant app's procedures answer "tenant sign-in is not configured".
   */
  TENANT_SESSION_SECRET: z
    .string()
    .min(32, "TENANT_SESSION_SECRET needs at least 32 characters")
    .transform((v) => new Secret(Buffer.from(v, "utf8")))
    .optional(),
  /**
   * The secret the admin app's sessions are signed with (at least 32 characters; HesaabPlus's admin
   * login, or `hesaab admin session`). Without it every admin procedure answers "admin sign-in is not
   * configured": nothing of the backups is served to whoever can reach the port.
   */
  ADMIN_SESSION_SECRET: z
    .string()
    .min(32, "ADMIN_SESSION_SECRET needs at least 32 characters")
    .transform((v) => new Secret(Buffer.from(v, "utf8")))
    .optional(),
  /** The time zone whose calendar day limits customer self-backups to one a day. */
  CUSTOMER_EXPORT_TZ: z
    .string()
    .default("UTC")
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat("en", { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, "CUSTOMER_EXPORT_TZ must be an IANA time zone, e.g. Asia/Tehran"),
  /** Tenant master keys: the gateway decrypts customer self-backups as they are downloaded. Without them, downloads are refused. */
  BACKUP_MASTER_KEYS: masterKeySet.optional(),
});

export type GatewayEnv = z.output<typeof schema>;
export const loadEnv = (source: NodeJS.ProcessEnv = process.env): GatewayEnv => parseEnv(schema, source);
