// The web apps' production builds, made once per test run however many browser test files need them:
// the files run side by side (vitest's forks), and a build empties dist/ that another file's gateway
// may be serving. A lock directory serializes the builds; a marker named after the run (the forks'
// common parent, the vitest process) says this run built it already. The deploy test builds every
// app too: turbo runs it after the gateway's integration tests (turbo.json), never beside them.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("../../..", import.meta.url));
/** A lock older than this was left by a killed run. */
const STALE_LOCK_MS = 10 * 60_000;

export async function buildWebApp(app: "admin-web" | "tenant-web"): Promise<void> {
  const dir = path.join(root, "apps", app);
  const lock = path.join(dir, ".test-build-lock");
  const marker = path.join(dir, "dist", `.built-for-run-${process.ppid}`);
  await acquire(lock);
  try {
    if (existsSync(marker)) return;
    await promisify(execFile)("pnpm", ["--filter", `@hesaab/${app}`, "build"], { cwd: root });
    await writeFile(marker, "");
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

async function acquire(lock: string): Promise<void> {
  for (;;) {
    try {
      await mkdir(lock);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const age = Date.now() - (await stat(lock).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > STALE_LOCK_MS) await rm(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 250));
    }
  }
}
