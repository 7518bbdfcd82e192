import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: the nearest folder above this file holding pnpm-workspace.yaml; undefined outside a checkout (a bundled CLI). */
export function findRepoRoot(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "pnpm-workspace.yaml"))) {
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
  return dir;
}

/** The repository root (see findRepoRoot); throws outside a checkout. */
export function repoRoot(): string {
  const root = findRepoRoot();
  if (!root) throw new Error("cannot find the repository root (pnpm-workspace.yaml)");
  return root;
}

/** Where the local stack keeps its state: data of the S3 endpoints, pid files, logs, the env file. */
export function stackDir(): string {
  return path.join(repoRoot(), ".stack");
}
