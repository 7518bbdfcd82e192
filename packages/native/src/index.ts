// The repository's native addons (@hesaab/gzip's deflate.node, @hesaab/zstd's zstd.node,
// @hesaab/tenant-data's rowsum.node) are optional: each is built at `pnpm install` by
// scripts/build-native.mjs when the machine can, and its package runs a slower path of the same format
// when it is not there. One loader finds them, in the workspace or beside a bundle, and says why one
// that was built is not used.
import { createRequire } from "node:module";

/**
 * Loads `build/<file>` beside the calling module's src/ (the workspace), or `./<file>` beside the
 * bundle (an app's dist/, the one-file CLI). Undefined when it is not built (a supported setup: the
 * build script said why at install), with a process warning `code` when it was built but does not
 * load or is another version than `version` (it costs CPU); the warning names `fallback`, what runs
 * instead (node:zlib unless said).
 */
export function loadAddon<T extends { version: number }>(o: {
  from: string;
  file: string;
  version: number;
  pkg: string;
  code: string;
  fallback?: string;
}): T | undefined {
  const require = createRequire(o.from);
  const rebuild = `rebuild: pnpm --filter ${o.pkg} build:native`;
  const fallback = o.fallback ?? "node:zlib";
  try {
    let lib: T;
    try {
      lib = require(`../build/${o.file}`) as T;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw err;
      lib = require(`./${o.file}`) as T;
    }
    if (lib.version === o.version) return lib;
    process.emitWarning(`${o.pkg}: build/${o.file} is version ${lib.version}, not ${o.version} (${rebuild}); using ${fallback}`, { code: o.code });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND")
      process.emitWarning(`${o.pkg}: build/${o.file} does not load (${(err as Error).message}; ${rebuild}); using ${fallback}`, { code: o.code });
  }
  return undefined;
}
