#!/usr/bin/env node
// Builds an app to dist/ with esbuild, so it runs with plain `node dist/main.js` (no tsx, no checkout):
//
//   hesaab-bundle                  dist/main.js (ESM) from src/main.ts: the workspace packages bundled in,
//                                  the npm packages the app declares in `dependencies` left to node_modules
//                                  (`pnpm deploy --prod` installs exactly those), anything else bundled.
//   hesaab-bundle --copy ../x/dist=web/x   also copies a built folder into dist/ (the gateway's SPAs).
//   hesaab-bundle --single hesaab  one executable CommonJS file dist/hesaab with everything bundled
//                                  (the CLI for a disaster: no registry, no node_modules; an extensionless
//                                  file outside any package is loaded as CommonJS).
//
// Either way the native addons of the packages bundled in (@hesaab/gzip's libdeflate deflate.node,
// @hesaab/zstd's libzstd zstd.node, @hesaab/tenant-data's row checksum rowsum.node), when they were
// built, are copied beside the output; each package looks there when its own build/ is not beside it,
// and falls back to node:zlib (the row checksum: to JavaScript) without it.
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { copyAddons, ESM_REQUIRE_BANNER, NODE_BUNDLE } from "./lib.mjs";

const cwd = process.cwd();
const pkg = JSON.parse(readFileSync(path.join(cwd, "package.json"), "utf8"));
const singleAt = process.argv.indexOf("--single");
const single = singleAt > 0 ? process.argv[singleAt + 1] : undefined;
const outdir = path.join(cwd, "dist");
const declared = Object.entries(pkg.dependencies ?? {})
  .filter(([, spec]) => !String(spec).startsWith("workspace:"))
  .map(([name]) => name);

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

const common = { ...NODE_BUNDLE, entryPoints: [path.join(cwd, "src/main.ts")], metafile: true };

const migrations = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../packages/db/migrations");
/** packages/db's migrations as relative path → content, for the one-file build (packages/db unpacks them when it runs). */
const embeddedMigrations = () =>
  Object.fromEntries(
    readdirSync(migrations, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => {
        const file = path.join(e.parentPath, e.name);
        return [path.relative(migrations, file), readFileSync(file, "utf8")];
      }),
  );

const result = single
  ? await build({
      ...common,
      outfile: path.join(outdir, single),
      format: "cjs",
      // CommonJS has no import.meta: the workspace code's import.meta.url becomes this file's URL.
      define: { "import.meta.url": "__hesaabFileUrl", __HESAAB_EMBEDDED_MIGRATIONS__: JSON.stringify(embeddedMigrations()) },
      // the entry keeps its own #! line (apps/cli/src/main.ts has one); esbuild puts it first
      banner: { js: `var __hesaabFileUrl = require("node:url").pathToFileURL(__filename).href;` },
    })
  : await build({
      ...common,
      outfile: path.join(outdir, "main.js"),
      format: "esm",
      sourcemap: "linked",
      external: [...NODE_BUNDLE.external, ...declared],
      banner: { js: ESM_REQUIRE_BANNER },
    });

// --copy <from>=<to>: a built folder shipped with the app (the gateway's SPAs), <to> under dist/
for (let i = process.argv.indexOf("--copy"); i > 0; i = process.argv.indexOf("--copy", i + 1)) {
  const [from, to] = process.argv[i + 1].split("=");
  if (!existsSync(path.join(cwd, from))) throw new Error(`${pkg.name}: ${from} is not built (turbo run build builds it first)`);
  cpSync(path.join(cwd, from), path.join(outdir, to), { recursive: true });
}
if (single) chmodSync(path.join(outdir, single), 0o755);
const bundled = (pkgName) => Object.keys(result.metafile.inputs).some((input) => input.includes(`packages/${pkgName}/src/`));
// the catalog's migrations beside a bundle that migrates (the one-file CLI carries them inside)
if (!single && Object.keys(result.metafile.inputs).some((input) => input.includes("packages/db/src/")))
  cpSync(migrations, path.join(outdir, "migrations"), { recursive: true });
const shipped = copyAddons(outdir, bundled);
process.stdout.write(`${pkg.name}: dist/${single ?? "main.js"}${shipped.join("")}\n`);
