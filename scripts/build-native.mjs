// Builds a package's native addon (one C file against one system library, or none) with the C compiler,
// from the package's folder (its postinstall and build:native scripts):
//
//   node ../../scripts/build-native.mjs <source.c> <lib> <apt package>           at `pnpm install`:
//        never fails the install. When it cannot build, it prints why and the package runs on its
//        node:zlib engine (same format, more CPU).
//   node ../../scripts/build-native.mjs <source.c> -                              an addon that links no
//        library (@hesaab/tenant-data's rowsum.c uses the OpenSSL node exports); without it, the package
//        runs its JavaScript path.
//   node ../../scripts/build-native.mjs <source.c> <lib> <apt package> --force   by hand
//        (`pnpm --filter <package> build:native`): rebuilds, warnings are errors, a failure exits 1.
//
// The addon is build/<source's name>.node, e.g. `src/zstd.c zstd libzstd-dev` → build/zstd.node linked
// with -lzstd; scripts/native/ (the N-API side the addons share) is on its include path. Debian:
// apt-get install <apt package> gcc libc6-dev. `CC` may name another compiler (with flags).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const [sourceArg, lib, aptPackage] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const linksNothing = lib === "-";
if (!sourceArg || !lib || (!aptPackage && !linksNothing)) {
  process.stderr.write("usage: node scripts/build-native.mjs <source.c> <lib> <apt package> | <source.c> - [--force] (from the package's folder)\n");
  process.exit(2);
}
const root = process.cwd();
const name = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).name;
const source = path.join(root, sourceArg);
const target = path.join(root, "build", `${path.basename(sourceArg, ".c")}.node`);
const strict = process.argv.includes("--force");
const shared = path.join(path.dirname(fileURLToPath(import.meta.url)), "native");
const sharedHeader = path.join(shared, "buffer-codec.h");

function giveUp(why, details = "") {
  if (details) process.stderr.write(`${details.trim()}\n`);
  if (strict) {
    process.stderr.write(`${name}: ${why}\n`);
    process.exit(1);
  }
  rmSync(target, { force: true }); // an addon older than its source may not match index.ts
  const [fallback, needs] = linksNothing
    ? ["its JavaScript path", "apt-get install gcc libc6-dev"]
    : ["node:zlib", `For lib${lib}: apt-get install ${aptPackage} gcc libc6-dev`];
  process.stderr.write(`${name}: ${why}; running on ${fallback} instead (same format, more CPU). ${needs}, then pnpm --filter ${name} build:native\n`);
  process.exit(0);
}

const newestSource = Math.max(statSync(source).mtimeMs, statSync(sharedHeader).mtimeMs);
if (!strict && existsSync(target) && statSync(target).mtimeMs >= newestSource) process.exit(0);

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
  `-I${shared}`,
  "-DNAPI_VERSION=8",
  source,
  "-o",
  partial,
  ...(linksNothing ? [] : [`-l${lib}`]),
];
const r = spawnSync(cc, args, { encoding: "utf8" });
if (r.error) giveUp(`the C compiler could not be started (${cc}: ${r.error.message})`);
if (r.status !== 0) {
  rmSync(partial, { force: true });
  giveUp(`${cc} could not build ${sourceArg} (above: ${linksNothing ? "are gcc and libc6-dev installed?" : `is ${aptPackage} installed?`})`, r.stderr);
}
renameSync(partial, target);
if (r.stderr.trim()) process.stderr.write(r.stderr);
process.stderr.write(`${name}: built ${path.relative(process.cwd(), target)}${linksNothing ? "" : ` (lib${lib})`}\n`);
