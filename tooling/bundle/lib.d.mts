import type { BuildOptions } from "esbuild";

export declare const ADDONS: readonly { pkg: string; file: string; without: string }[];
export declare const NODE_BUNDLE: BuildOptions & { external: string[] };
export declare const ESM_REQUIRE_BANNER: string;
export declare function copyAddons(outdir: string, bundled?: (pkg: string) => boolean): string[];
export declare function bundleEsmSync(o: { entry: string; outfile: string }): void;
