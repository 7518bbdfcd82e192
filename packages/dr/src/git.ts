import { execFile } from "node:child_process";

/**
 * The deployed git commit a disaster backup records: the configured value (DEPLOYED_GIT_COMMIT)
 * when given, else `git rev-parse HEAD` in `cwd` when that is a git checkout, else null.
 */
export async function deployedGitCommit({ configured, cwd = "." }: { configured?: string | undefined; cwd?: string }): Promise<string | null> {
  if (configured?.trim()) return configured.trim();
  return new Promise((resolve) => {
    execFile("git", ["rev-parse", "HEAD"], { cwd, timeout: 5_000 }, (err, stdout) => {
      const commit = String(stdout).trim();
      resolve(!err && /^[0-9a-f]{7,64}$/.test(commit) ? commit : null);
    });
  });
}
