// The CLI's configuration: the only place that reads process.env. Each command area reads the
// pieces it needs through one function here; values are validated with zod on first use, so a
// command that does not need a variable never fails for its absence.
import { z } from "zod";
import { envPieces, parseEnv } from "@hesaab/config";

const platformEnvSchema = z.object({
  PLATFORM_DATABASE_URL: envPieces.platformDb.PLATFORM_DATABASE_URL.optional(),
});

/** `PLATFORM_DATABASE_URL`: the sample platform's database (the `--database-url` option wins over it). */
export function platformEnv(): z.output<typeof platformEnvSchema> {
  return parseEnv(platformEnvSchema, process.env);
}
