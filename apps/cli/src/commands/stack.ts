import type { Command } from "commander";
import { ensureStack, readStackEnv, stopStack } from "@hesaab/stack";
import { migrate } from "@hesaab/db";
import { printJson } from "../output";

export function registerStack(program: Command): void {
  const stack = program.command("stack").description("the local stack: PostgreSQL, NATS JetStream and two S3 endpoints (B2, R2)");

  stack
    .command("up")
    .description("start what is not running (idempotent), migrate the catalog, write .stack/env")
    .option("--json", "print the status as JSON")
    .action(async (opts: { json?: boolean }) => {
      const status = await ensureStack({ log: (line) => process.stderr.write(`${line}\n`) });
      const { applied } = await migrate({ url: status.env.BACKUP_DATABASE_URL! });
      if (opts.json) {
        printJson({ parts: status.parts, envFile: status.envFile, migrationsApplied: applied });
        return;
      }
      for (const [part, state] of Object.entries(status.parts)) process.stdout.write(`${part.padEnd(9)} ${state}\n`);
      process.stdout.write(`catalog   ${applied ? `${applied} migration(s) applied` : "up to date"}\n`);
      process.stdout.write(`\nenvironment written to ${status.envFile}\nuse it with:  set -a; . ${status.envFile}; set +a\n`);
    });

  stack
    .command("down")
    .description("stop the local S3 endpoints (PostgreSQL and NATS are system services and stay up)")
    .action(() => {
      const stopped = stopStack();
      process.stdout.write(stopped.length ? `stopped ${stopped.join(", ")}\n` : "nothing to stop\n");
    });

  stack
    .command("env")
    .description("print the local stack's environment (secrets included: for your shell only)")
    .action(() => {
      const env = readStackEnv();
      if (!Object.keys(env).length) {
        process.stderr.write("the stack was never started here: run `pnpm hesaab stack up`\n");
        process.exitCode = 1;
        return;
      }
      for (const [k, v] of Object.entries(env)) process.stdout.write(`export ${k}='${v}'\n`);
    });
}
