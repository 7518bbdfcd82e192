import type { Command } from "commander";

export function registerRestore(_program: Command): void {}
