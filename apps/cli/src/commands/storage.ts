import type { Command } from "commander";

export function registerStorage(_program: Command): void {}
