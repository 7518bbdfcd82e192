// Builds build/deflate.node (src/deflate.c against the system's libdeflate) with the C compiler,
// at `pnpm install` (postinstall) or by hand (`pnpm --filter @hesaab/gzip build:native`).
// Without a compiler or libdeflate's headers it says so and stops without failing the install:
// @hesaab/gzip then compresses with node:zlib (same format, more CPU). Debian: apt-get install libdeflate-dev.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const source = path.join(root, "src", "deflate.c");
const target = path.join(root, "build", "deflate.node");
const force = process.argv.includes("--force");

// Node's headers: beside the running node (a tarball or nvm install), or where its prefix put them (Debian: /usr).
const headers = [path.join(path.dirname(process.execPath), "..", "include", "node"), path.join(process.config.variables.node_prefix ?? "/usr", "include", "node")].find((dir) =>
  existsSync(path.join(dir, "node_api.h")),
);

function skip(why) {
  process.stderr.write(`@hesaab/gzip: ${why}; compressing with node:zlib instead (same gzip, more CPU). For libdeflate: apt-get install libdeflate-dev, then pnpm --filter @hesaab/gzip build:native\n`);
  process.exit(0);
}

if (!force && existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs) process.exit(0);
if (!headers) skip("Node's C headers (node_api.h) were not found");
const cc = process.env.CC || "cc";
mkdirSync(path.dirname(target), { recursive: true });
const args = ["-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", `-I${headers}`, "-DNAPI_VERSION=8", source, "-o", target, "-ldeflate"];
const r = spawnSync(cc, args, { encoding: "utf8" });
if (r.error) skip(`no C compiler (${cc}: ${r.error.message})`);
if (r.status !== 0) {
  if (/libdeflate\.h|-ldeflate/.test(r.stderr)) skip("libdeflate's headers or library are not installed");
  process.stderr.write(r.stderr);
  process.stderr.write(`@hesaab/gzip: ${cc} failed (above)\n`);
  process.exit(1);
}
process.stderr.write(`@hesaab/gzip: built ${path.relative(process.cwd(), target)} (libdeflate)\n`);
