import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { RUNTIME_SETTING_KEYS, RUNTIME_SETTINGS, runtimeSettingKey, type RuntimeSettingKey } from "@hesaab/contracts";
import { readRuntimeSettings, writeAudit, writeRuntimeSetting } from "@hesaab/db";
import { actorOf, adminProcedure, router } from "../trpc";

export const settingsRouter = router({
  /** Every runtime setting: the value in force, whether the catalog sets it, and the environment variable it falls back to (RUNTIME_SETTINGS of @hesaab/contracts). */
  get: adminProcedure.query(async ({ ctx }) => {
    const set = await readRuntimeSettings(ctx.db);
    const env = ctx.runtimeEnv as Record<string, unknown> | undefined;
    return RUNTIME_SETTING_KEYS.map((key: RuntimeSettingKey) => {
      const fallback = env?.[RUNTIME_SETTINGS[key].env];
      return {
        key,
        value: set[key] ?? (typeof fallback === "number" ? fallback : null),
        source: set[key] !== undefined ? ("catalog" as const) : ("environment" as const),
        env: RUNTIME_SETTINGS[key].env,
      };
    });
  }),
  /** Sets one setting (validated by its key's schema), or with `value: null` removes it so the environment's value holds again; audited with the old and new values. */
  set: adminProcedure.input(z.object({ key: runtimeSettingKey, value: z.unknown() })).mutation(async ({ ctx, input }) => {
    const parsed = input.value === null ? { success: true as const, data: null } : RUNTIME_SETTINGS[input.key].schema.safeParse(input.value);
    if (!parsed.success)
      throw new TRPCError({ code: "BAD_REQUEST", message: `${input.key}: ${parsed.error.issues.map((i) => i.message).join("; ")}`, cause: parsed.error });
    const actor = actorOf(ctx.admin);
    const { previous } = await writeRuntimeSetting(ctx.db, { key: input.key, value: parsed.data, by: actor });
    await writeAudit(ctx.db, { actor, action: "settings.set", targetType: "setting", targetId: input.key, details: { previous, value: parsed.data } });
    return { key: input.key, value: parsed.data };
  }),
});
