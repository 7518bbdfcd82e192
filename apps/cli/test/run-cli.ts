// The real `hesaab` as the tests run it: a child process (node + tsx) given only the environment the
// case names (HESAAB_NO_STACK_ENV: no local .stack/env defaults), its exit code and output collected.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { testEnv } from "@hesaab/testkit";

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
