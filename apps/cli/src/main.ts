#!/usr/bin/env node
// `hesaab`: every operation of the backup system, runnable without any service (the disaster case).
// Each area registers its commands from its own file under ./commands.
import { Command } from "commander";
import { registerStack } from "./commands/stack";
import { registerArtifact } from "./commands/artifact";
import { registerPlatform } from "./commands/platform";
import { registerStorage } from "./commands/storage";
import { registerBackup } from "./commands/backup";
import { registerRestore } from "./commands/restore";
import { registerDr } from "./commands/dr";
import { registerDemo } from "./commands/demo";
import { registerKeys } from "./commands/keys";
import { registerPlan } from "./commands/plan";
import { registerExport } from "./commands/export";
import { registerSessions } from "./commands/session";
import { registerDrill } from "./commands/drill";
import { registerStatus } from "./commands/status";
import { errorMessage } from "./output";

const program = new Command("hesaab").description("HesaabPlus backup and recovery").showHelpAfterError().configureHelp({ sortSubcommands: true });

for (const register of [
  registerStack,
  registerArtifact,
  registerPlatform,
  registerStorage,
  registerBackup,
  registerRestore,
  registerDr,
  registerDemo,
  registerKeys,
  registerPlan,
  registerExport,
  registerSessions,
  registerDrill,
  registerStatus,
]) {
  register(program);
}

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`${errorMessage(err)}\n`);
  process.exitCode = process.exitCode && process.exitCode !== 0 ? process.exitCode : 1;
});
