// scripts/secret-grep.mjs, the last step of `pnpm test`: it must find a configured secret in a log,
// as written or as key bytes in hex, name it without printing it, and pass a clean log.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const script = fileURLToPath(new URL("../../../scripts/secret-grep.mjs", import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), "secret-grep-"));
const drKey = randomBytes(32);
const sessionSecret = randomBytes(24).toString("base64url");
const envFile = path.join(dir, "env");
writeFileSync(
  envFile,
  [
    `export DR_MASTER_KEYS='1:${drKey.toString("base64")}'`,
    `export ADMIN_SESSION_SECRET='${sessionSecret}'`,
    // the local S3 endpoints' secret equals their key id, which logs may show: not grepped for
    "export B2_ACCESS_KEY_ID='S3RVER-LOCAL'",
    "export B2_SECRET_ACCESS_KEY='S3RVER-LOCAL'",
  ].join("\n") + "\n",
);

function grep(lines: string[]) {
  const log = path.join(dir, `${randomBytes(4).toString("hex")}.log`);
  writeFileSync(log, lines.join("\n"));
  const r = spawnSync(process.execPath, [script, log], { encoding: "utf8", env: { ...process.env, SECRET_GREP_ENV: envFile } });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("scripts/secret-grep.mjs", () => {
  it("passes a log without secrets, the local S3 key id included", () => {
    expect(grep(['{"level":"info","message":"uploaded","accessKeyId":"S3RVER-LOCAL"}'])).toMatchObject({ status: 0 });
  });

  it("fails on a DR key's bytes in hex and on a session secret, naming them and printing neither", () => {
    const r = grep(["ok", `debug key=${drKey.toString("hex")}`, `token signed with ${sessionSecret}`]);
    expect(r.status).toBe(1);
    expect(r.out).toContain("DR_MASTER_KEYS appears in 1 line(s)");
    expect(r.out).toContain("ADMIN_SESSION_SECRET appears in 1 line(s)");
    expect(r.out).not.toContain(drKey.toString("hex"));
    expect(r.out).not.toContain(sessionSecret);
  });
});
