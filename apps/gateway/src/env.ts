import type { KeyObject } from "node:crypto";
import { z } from "zod";
import { envPieces, isHesaabError, masterKeySet, parseEnv, Secret } from "@hesaab/config";
import { sessionPublicKey } from "@hesaab/session";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

const schema = z
  .object({
    ...envPieces.platformDb,
    ...envPieces.catalogDb,
    ...envPieces.nats,
    ...envPieces.busPrefix,
    ...envPieces.dataDir,
    /** The platform's tenant column, as backup-svc discovers tenants with it ("back up now" checks ids against the same root table). */
    TENANT_COLUMN: envPieces.tenantBackup.TENANT_COLUMN,
    // the retention rules and deep-verify percent of the environment, as storage-svc reads them: the
    // API shows the rules in force (catalog settings over these) and previews retention with them
    ...envPieces.retention,
    ...envPieces.retentionKeeps,
    STORAGE_DEEP_VERIFY_PERCENT: envPieces.deepVerify.STORAGE_DEEP_VERIFY_PERCENT,
    // the alert channels storage-svc delivers to, shown (kind and target, never a secret) by `alerts.channels`
    ALERT_WEBHOOK_URL: envPieces.alerts.ALERT_WEBHOOK_URL,
    ALERT_WEBHOOK_SECRET: envPieces.alerts.ALERT_WEBHOOK_SECRET,
    ALERT_SMTP_URL: envPieces.alerts.ALERT_SMTP_URL,
    ALERT_EMAIL_TO: envPieces.alerts.ALERT_EMAIL_TO,
    ALERT_EMAIL_FROM: envPieces.alerts.ALERT_EMAIL_FROM,
    /** Drill reports verify each record's signature under it (read only: the gateway signs nothing); without it the drill report is unavailable. */
    DR_MASTER_KEYS: envPieces.drKeys.DR_MASTER_KEYS.optional(),
    DRILL_WINDOW_DAYS: envPieces.drills.DRILL_WINDOW_DAYS,
    GATEWAY_HOST: z.string().default("127.0.0.1"),
    GATEWAY_PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
    /**
     * The secret HesaabPlus signs its tenant sessions with (HS256, at least 32 characters); it also
     * signs the download links of customer exports. Without it (and without a public key or JWKS) the
     * tenant app's procedures answer "tenant sign-in is not configured".
     */
    TENANT_SESSION_SECRET: z
      .string()
      .min(32, "TENANT_SESSION_SECRET needs at least 32 characters")
      .transform((v) => new Secret(Buffer.from(v, "utf8")))
      .optional(),
    /**
     * The secret the admin app's sessions are signed with (HS256, at least 32 characters; HesaabPlus's
     * admin login, or `hesaab admin session`). Without it (and without a public key or JWKS) every admin
     * procedure answers "admin sign-in is not configured": nothing of the backups is served to whoever
     * can reach the port.
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
    /** How many times one customer export may be downloaded (then 410: ask for a new one tomorrow). */
    CUSTOMER_EXPORT_MAX_DOWNLOADS: z.coerce.number().int().min(1).max(1000).default(10),
    /** Requests per minute to the tenant procedures and the download route, per session (or link) and per IP; over it, 429 with Retry-After. */
    GATEWAY_RATE_LIMIT_PER_SESSION: z.coerce.number().int().min(1).default(60),
    GATEWAY_RATE_LIMIT_PER_IP: z.coerce.number().int().min(1).default(300),
    /** On SIGTERM: requests in flight get this long, then their connections are cut (the exit code is then 1). */
    GATEWAY_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
    /** pino level of the gateway's log (JSON lines on stdout). */
    GATEWAY_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    /** Tenant master keys: the gateway decrypts customer self-backups as they are downloaded. Without them, downloads are refused. */
    BACKUP_MASTER_KEYS: masterKeySet.optional(),
    ...envPieces.sessions,
    /**
     * HesaabPlus's public key (SPKI PEM, Ed25519 or RSA; `\n` for newlines on one line): sessions of
     * both apps are then EdDSA or RS256 tokens checked against it, and HS256 ones are refused.
     */
    SESSION_PUBLIC_KEY: z
      .string()
      .min(1)
      .transform((pem, ctx): KeyObject => {
        try {
          return sessionPublicKey(pem);
        } catch (err) {
          ctx.addIssue({ code: "custom", message: `SESSION_PUBLIC_KEY: ${isHesaabError(err) ? err.describe() : "not a public key"}` });
          return z.NEVER;
        }
      })
      .optional(),
    /** Where HesaabPlus publishes its signing keys (a JWKS, https; http only on loopback): like SESSION_PUBLIC_KEY, by `kid`, cached 10 minutes. */
    SESSION_JWKS_URL: z
      .url()
      .transform((v) => new URL(v))
      .refine(
        (u) => u.protocol === "https:" || (u.protocol === "http:" && LOOPBACK.has(u.hostname)),
        "SESSION_JWKS_URL must be https (http only on 127.0.0.1 or localhost)",
      )
      .optional(),
    /** The tenant roles (the session's `role`) whose users may ask for a customer self-backup, comma-separated. */
    CUSTOMER_EXPORT_ROLES: z
      .string()
      .default("owner,admin")
      .transform((v) =>
        v
          .split(",")
          .map((r) => r.trim())
          .filter(Boolean),
      ),
  })
  .refine((env) => !(env.SESSION_PUBLIC_KEY && env.SESSION_JWKS_URL), {
    message: "set SESSION_PUBLIC_KEY or SESSION_JWKS_URL, not both",
    path: ["SESSION_JWKS_URL"],
  });

export type GatewayEnv = z.output<typeof schema>;
export const loadEnv = (source: NodeJS.ProcessEnv = process.env): GatewayEnv => parseEnv(schema, source);
