import type { Command } from "commander";

export function registerStack(_program: Command): void {}
