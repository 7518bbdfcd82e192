import { eq, inArray } from "drizzle-orm";
import { parseRuntimeSettings, RUNTIME_SETTING_KEYS, type RuntimeSettingKey, type RuntimeSettings } from "@hesaab/contracts";
import type { CatalogDb } from "./client";
import { settings } from "./schema";

/** The runtime settings set in the catalog (valid ones only; see RUNTIME_SETTINGS in @hesaab/contracts). */
export async function readRuntimeSettings(db: CatalogDb): Promise<RuntimeSettings> {
  const rows = await db.select({ key: settings.key, value: settings.value }).from(settings).where(inArray(settings.key, RUNTIME_SETTING_KEYS));
  return parseRuntimeSettings(rows);
}

/** Sets one runtime setting (`value` already validated by the caller), or removes it (`null`: the environment's value holds again). Returns the previous value. */
export async function writeRuntimeSetting(db: CatalogDb, o: { key: RuntimeSettingKey; value: unknown; by: string }): Promise<{ previous: unknown }> {
  return db.transaction(async (tx) => {
    const [before] = await tx.select({ value: settings.value }).from(settings).where(eq(settings.key, o.key)).for("update");
    if (o.value === null) await tx.delete(settings).where(eq(settings.key, o.key));
    else
      await tx
        .insert(settings)
        .values({ key: o.key, value: o.value, updatedBy: o.by, updatedAt: new Date() })
        .onConflictDoUpdate({ target: settings.key, set: { value: o.value, updatedBy: o.by, updatedAt: new Date() } });
    return { previous: before?.value ?? null };
  });
}
