// The real `hesaab` as the tests run it: a child process (node + tsx) given only the environment the
// case names (HESAAB_NO_STACK_ENV: no local .stack/env defaults), its exit code and output collected.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { migrate } from "@hesaab/db";
import { createPlatformSchema, generatePlatform, type GenerateResult } from "@hesaab/platform";
import { ensureStack, freshDatabase, testEnv, type FreshDatabase } from "@hesaab/testkit";

export const cliDir = fileURLToPath(new URL("..", import.meta.url));

export interface CliRun<T = string> {
  code: number;
  stdout: T;
  stderr: string;
}

/** Runs `hesaab <args>` with `env` (PATH added). */
export function runCli(args: string[], env: Record<string, string | undefined>): Promise<CliRun>;
/** The same, stdout as bytes (a decrypted artifact on standard output). */
export function runCli(args: string[], env: Record<string, string | undefined>, o: { buffer: true }): Promise<CliRun<Buffer>>;
export function runCli(args: string[], env: Record<string, string | undefined>, o: { buffer?: boolean } = {}): Promise<CliRun<string | Buffer>> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/main.ts", ...args],
      {
        cwd: cliDir,
        env: { PATH: process.env.PATH ?? "", HESAAB_NO_STACK_ENV: "1", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...env },
        encoding: o.buffer ? "buffer" : "utf8",
        maxBuffer: 64 << 20,
      },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr: stderr.toString() }),
    );
  });
}

/** The local S3 endpoints' variables (B2_*, R2_*) from the stack. */
export function providerEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(testEnv()).filter(([k]) => k.startsWith("B2_") || k.startsWith("R2_")));
}

/** What a command that backs up or exports needs: the platform database, both providers, a fresh tenant master key and a data folder. */
export function platformEnv({ url, dataDir }: { url: string; dataDir: string }): Record<string, string> {
  return { ...providerEnv(), PLATFORM_DATABASE_URL: url, BACKUP_MASTER_KEYS: `1:${randomBytes(32).toString("base64")}`, HESAAB_DATA_DIR: dataDir };
}

export interface CliPlatform {
  database: FreshDatabase;
  platform: GenerateResult;
  dataDir: string;
  /** What `hesaab` is run with (platformEnv). */
  env: Record<string, string>;
  /** Drops the database and removes the data folder. */
  drop(): Promise<void>;
}

/** A generated platform in a fresh database (its catalog migrated when `migrated`), a data folder, and the CLI's environment for them. */
export async function cliPlatform(label: string, o: { tenants: number; scale: number; migrated: boolean }): Promise<CliPlatform> {
  await ensureStack();
  const database = await freshDatabase(label);
  await createPlatformSchema({ url: database.url });
  const platform = await generatePlatform({ url: database.url, tenants: o.tenants, scale: o.scale });
  if (o.migrated) await migrate({ url: database.url });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `${label}-`));
  return {
    database,
    platform,
    dataDir,
    env: platformEnv({ url: database.url, dataDir }),
    async drop() {
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
