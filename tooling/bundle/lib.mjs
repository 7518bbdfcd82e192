// What every bundle of ours shares: the esbuild settings for Node, and the native addons shipped
// beside it. `hesaab-bundle` (bundle.mjs) builds the apps' dist/ with them; @hesaab/testkit's
// `benchChild` builds a benchmark's child with them, so a benchmark measures what is deployed.
import { copyFileSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";

const packages = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../packages");

/** The workspace packages' native addons: each package loads `build/<file>`, or `./<file>` beside a bundle, else runs `without`. */
export const ADDONS = [
  { pkg: "gzip", file: "deflate.node", without: "no libdeflate addon: node:zlib" },
  { pkg: "zstd", file: "zstd.node", without: "no libzstd addon: node:zlib" },
  { pkg: "tenant-data", file: "rowsum.node", without: "no rowsum addon: row checksums in JavaScript" },
];

/** esbuild options of every bundle for Node. pg's optional native binding is required only for pg.native, never here. */
export const NODE_BUNDLE = {
  bundle: true,
  platform: "node",
  target: "node20.19",
  logLevel: "warning",
  legalComments: "none",
  external: ["pg-native"],
};

/** Bundled CommonJS packages call require(): an ESM bundle gets one. */
export const ESM_REQUIRE_BANNER = `import { createRequire as __hesaabCreateRequire } from "node:module";\nconst require = __hesaabCreateRequire(import.meta.url);`;

/**
 * Copies the built addons of the packages `bundled(pkg)` names into `outdir`; returns, per addon of
 * those, ` + <file>` when it was shipped or ` (<without>)` when it was not built.
 */
export function copyAddons(outdir, bundled = () => true) {
  return ADDONS.filter((a) => bundled(a.pkg)).map((addon) => {
    const built = path.join(packages, addon.pkg, "build", addon.file);
    if (!existsSync(built)) return ` (${addon.without})`;
    copyFileSync(built, path.join(outdir, addon.file));
    return ` + ${addon.file}`;
  });
}

/** `entry` as one ESM file for plain `node`, everything bundled in (a benchmark's child: no node_modules beside it needed). */
export function bundleEsmSync({ entry, outfile }) {
  buildSync({ ...NODE_BUNDLE, entryPoints: [entry], outfile, format: "esm", banner: { js: ESM_REQUIRE_BANNER } });
}
