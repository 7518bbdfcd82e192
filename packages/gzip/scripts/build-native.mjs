// Builds build/deflate.node (src/deflate.c against the system's libdeflate) with the C compiler.
//
//   node scripts/build-native.mjs           at `pnpm install` (postinstall): never fails the install.
//                                           When it cannot build, it prints why and @hesaab/gzip
//                                           compresses with node:zlib (same gzip, ~1.7x the CPU).
//   node scripts/build-native.mjs --force   by hand (`pnpm --filter @hesaab/gzip build:native`):
//                                           rebuilds, warnings are errors, a failure exits 1.
//
// Debian: apt-get install libdeflate-dev gcc libc6-dev. `CC` may name another compiler (with flags).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const source = path.join(root, "src", "deflate.c");
const target = path.join(root, "build", "deflate.node");
const strict = process.argv.includes("--force");

function giveUp(why, details = "") {
  if (details) process.stderr.write(`${details.trim()}\n`);
  if (strict) {
    process.stderr.write(`@hesaab/gzip: ${why}\n`);
    process.exit(1);
  }
  rmSync(target, { force: true }); // an addon older than src/deflate.c may not match index.ts
  process.stderr.write(
    `@hesaab/gzip: ${why}; compressing with node:zlib instead (same gzip, more CPU). For libdeflate: apt-get install libdeflate-dev gcc libc6-dev, then pnpm --filter @hesaab/gzip build:native\n`,
  );
  process.exit(0);
}

if (!strict && existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs) process.exit(0);

// Node's headers: beside the running node (a tarball or nvm install), or where its prefix put them (Debian: /usr).
const headers = [
  path.join(path.dirname(process.execPath), "..", "include", "node"),
  path.join(process.config.variables.node_prefix ?? "/usr", "include", "node"),
].find((dir) => existsSync(path.join(dir, "node_api.h")));
if (!headers) giveUp("Node's C headers (node_api.h) were not found");

const [cc, ...ccFlags] = (process.env.CC || "cc").trim().split(/\s+/);
const partial = `${target}.${process.pid}.tmp`; // a failed rebuild leaves the working addon in place
mkdirSync(path.dirname(target), { recursive: true });
const args = [
  ...ccFlags,
  "-O2",
  "-std=c11",
  "-Wall",
  "-Wextra",
  ...(strict ? ["-Werror"] : []),
  "-fPIC",
  "-shared",
  `-I${headers}`,
  "-DNAPI_VERSION=8",
  source,
  "-o",
  partial,
  "-ldeflate",
];
const r = spawnSync(cc, args, { encoding: "utf8" });
if (r.error) giveUp(`the C compiler could not be started (${cc}: ${r.error.message})`);
if (r.status !== 0) {
  rmSync(partial, { force: true });
  giveUp(`${cc} could not build src/deflate.c (above: is libdeflate-dev installed?)`, r.stderr);
}
renameSync(partial, target);
if (r.stderr.trim()) process.stderr.write(r.stderr);
process.stderr.write(`@hesaab/gzip: built ${path.relative(process.cwd(), target)} (libdeflate)\n`);
