import type { Command } from "commander";

export function registerArtifact(_program: Command): void {}
