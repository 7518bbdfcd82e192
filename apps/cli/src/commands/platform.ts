import type { Command } from "commander";

export function registerPlatform(_program: Command): void {}
