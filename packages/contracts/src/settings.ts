import { z } from "zod";

/**
 * Settings safe to change at run time, kept in the catalog's `settings` table (key → JSON value) and
 * changed through the API (`settings.set`, audited). A key not set falls back to the environment
 * variable named here. Each value is validated by its schema both when it is written and when a
 * service reads it (a row written by hand that does not parse is ignored, and the variable holds).
 *
 * | key                          | value              | falls back to                    | read by                                  |
 * | ---------------------------- | ------------------ | -------------------------------- | ---------------------------------------- |
 * | retention.tenant.days        | whole days ≥ 1     | BACKUP_RETENTION_DAYS            | storage-svc retention, retention.preview |
 * | retention.tenant.keep_daily  | count ≥ 0          | BACKUP_RETENTION_KEEP_DAILY      | the same                                 |
 * | retention.tenant.keep_weekly | count ≥ 0          | BACKUP_RETENTION_KEEP_WEEKLY     | the same                                 |
 * | retention.tenant.keep_monthly| count ≥ 0          | BACKUP_RETENTION_KEEP_MONTHLY    | the same                                 |
 * | retention.disaster.days      | whole days ≥ 1     | DISASTER_BACKUP_RETENTION_DAYS   | the same                                 |
 * | verify.deep_sample_percent   | 0 to 100           | STORAGE_DEEP_VERIFY_PERCENT      | storage-svc's deep-verification sample   |
 */
export const RUNTIME_SETTINGS = {
  "retention.tenant.days": { schema: z.number().int().min(1).max(36_500), env: "BACKUP_RETENTION_DAYS" },
  "retention.tenant.keep_daily": { schema: z.number().int().min(0).max(10_000), env: "BACKUP_RETENTION_KEEP_DAILY" },
  "retention.tenant.keep_weekly": { schema: z.number().int().min(0).max(10_000), env: "BACKUP_RETENTION_KEEP_WEEKLY" },
  "retention.tenant.keep_monthly": { schema: z.number().int().min(0).max(10_000), env: "BACKUP_RETENTION_KEEP_MONTHLY" },
  "retention.disaster.days": { schema: z.number().int().min(1).max(36_500), env: "DISASTER_BACKUP_RETENTION_DAYS" },
  "verify.deep_sample_percent": { schema: z.number().min(0).max(100), env: "STORAGE_DEEP_VERIFY_PERCENT" },
} as const;

export type RuntimeSettingKey = keyof typeof RUNTIME_SETTINGS;
export const RUNTIME_SETTING_KEYS = Object.keys(RUNTIME_SETTINGS) as RuntimeSettingKey[];
export const runtimeSettingKey = z.enum(RUNTIME_SETTING_KEYS as [RuntimeSettingKey, ...RuntimeSettingKey[]]);
export type RuntimeSettings = { [K in RuntimeSettingKey]?: z.output<(typeof RUNTIME_SETTINGS)[K]["schema"]> };

/** The settings among `rows` that are known keys with valid values; anything else is left out. */
export function parseRuntimeSettings(rows: readonly { key: string; value: unknown }[]): RuntimeSettings {
  const out: Record<string, unknown> = {};
  for (const { key, value } of rows) {
    if (!Object.hasOwn(RUNTIME_SETTINGS, key)) continue;
    const parsed = RUNTIME_SETTINGS[key as RuntimeSettingKey].schema.safeParse(value);
    if (parsed.success) out[key] = parsed.data;
  }
  return out;
}
