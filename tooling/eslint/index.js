// Shared lint setup. The layer rules live here, in one place:
//   - no app imports another app (apps are deployable shells);
//   - packages never import apps;
//   - the SPAs import only *types* from @hesaab/api (its router type), never values, and nothing
//     from the gateway or another server package;
//   - `process.env` is read only in an app's `src/env.ts` or in packages/config;
//   - a package's source imports only packages of the layers below its own (LAYERS), and within its
//     layer only where the layer allows it: bus never reaches into db, crypto never into a capability;
//   - TypeScript is linted with its types: a promise is awaited, handled or explicitly let go (`void`),
//     never dropped by accident, and never handed to something that does not wait for it.
import js from "@eslint/js";
import process from "node:process";
import tseslint from "typescript-eslint";

export const APPS = ["gateway", "backup-svc", "storage-svc", "dr-svc", "cli", "admin-web", "tenant-web"];

/**
 * Type-aware rules for the TypeScript of one package (`dir`: its folder, where its tsconfig.json is).
 * The project service finds each file's tsconfig; the root is explicit because this config is shared by
 * every package, and typescript-eslint cannot tell from here which of them is being linted.
 * @param {string} dir
 */
const typed = (dir) => [
  {
    files: ["**/*.ts", "**/*.tsx"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: dir } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/no-unnecessary-type-assertion": "error",
    },
  },
];

const base = tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", "*.config.*"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "max-params": ["error", 3],
      "no-restricted-syntax": [
        "error",
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: "read configuration through src/env.ts (one validated config module per app)",
        },
      ],
    },
  },
  {
    files: ["**/env.ts", "**/*.test.ts", "**/test/**", "**/bench/**", "**/scripts/**"],
    rules: { "no-restricted-syntax": "off" },
  },
);

/** @param {string[]} names @param {string} why */
const forbidApps = (names, why) => names.flatMap((name) => [{ group: [`@hesaab/${name}`, `@hesaab/${name}/*`], message: why }]);

/**
 * The packages, lowest layer first. A package's source may import packages of lower layers, and of
 * its own layer only where `siblings` says so (the capabilities are independent of each other; so are
 * the infrastructure packages: the bus knows nothing of the catalog).
 */
export const LAYERS = [
  { name: "foundation", packages: ["config", "contracts", "native", "gzip", "zstd", "web-session"], siblings: true },
  { name: "infrastructure", packages: ["db", "storage", "bus", "tenant-data", "platform", "stack"], siblings: false },
  { name: "security", packages: ["crypto", "session", "artifacts"], siblings: true },
  { name: "observability", packages: ["observability"], siblings: false },
  { name: "capabilities", packages: ["tenant-backup", "storage-ops", "dr"], siblings: false },
  // drills compose capabilities: a backup restored through the restore path, checked, attested
  { name: "composition", packages: ["drills"], siblings: false },
  { name: "api", packages: ["api"], siblings: false },
  { name: "test support", packages: ["testkit"], siblings: false },
];

/** The packages `name`'s source may not import, with the reason. @param {string} name */
function forbiddenPackages(name) {
  const at = LAYERS.findIndex((l) => l.packages.includes(name));
  if (at < 0) throw new Error(`package ${name} is in no layer: add it to LAYERS in tooling/eslint/index.js`);
  const layer = LAYERS[at];
  return LAYERS.flatMap((l, i) => {
    if (i < at) return [];
    const names = i === at ? (layer.siblings ? [] : l.packages.filter((p) => p !== name)) : l.packages;
    const why =
      i === at ? `${name} (${layer.name}) may not import another ${layer.name} package` : `${name} (${layer.name}) may not import a layer above it (${l.name})`;
    return names.map((p) => ({ group: [`@hesaab/${p}`, `@hesaab/${p}/*`], message: why }));
  });
}

/**
 * Lint config for a package under packages/ (`name`: its folder): it may not import any app, and its
 * source only lower layers. Tooling, which is in no layer, gives no name. `dir`: the package's folder
 * (`import.meta.dirname` of its eslint.config.js; default the working directory).
 */
export function packageConfig(/** @type {{ name?: string, dir?: string }} */ { name, dir = process.cwd() } = {}) {
  const apps = [...forbidApps(APPS, "packages never import apps"), { group: ["**/apps/**"], message: "packages never import apps" }];
  return tseslint.config(
    ...base,
    ...typed(dir),
    { rules: { "@typescript-eslint/no-restricted-imports": ["error", { patterns: apps }] } },
    ...(name
      ? [{ files: ["src/**"], rules: { "@typescript-eslint/no-restricted-imports": ["error", { patterns: [...apps, ...forbiddenPackages(name)] }] } }]
      : []),
  );
}

/** The packages an SPA may import values from (they run in a browser). */
const BROWSER_PACKAGES = ["contracts", "web-session"];

/**
 * Lint config for an app: it may not import another app. SPAs import only the API's router type
 * (`import type { AppRouter } from "@hesaab/api"`) and the browser-side packages. `dir` as for packageConfig.
 */
export function appConfig(/** @type {{ name: string, spa?: boolean, dir?: string }} */ { name, spa = false, dir = process.cwd() }) {
  const others = APPS.filter((a) => a !== name);
  const patterns = spa
    ? [
        ...forbidApps(others, "no app imports another app: SPAs import the API's router type from @hesaab/api"),
        {
          group: ["@hesaab/api", "@hesaab/api/*"],
          message: 'SPAs import only the API\'s router type (import type { AppRouter } from "@hesaab/api")',
          allowTypeImports: true,
        },
        {
          group: ["@hesaab/*", "!@hesaab/api", "!@hesaab/api/*", ...BROWSER_PACKAGES.flatMap((p) => [`!@hesaab/${p}`, `!@hesaab/${p}/*`])],
          message: "SPAs depend on the API's types (@hesaab/api), not on server packages",
        },
      ]
    : forbidApps(others, "no app imports another app");
  return tseslint.config(...base, ...typed(dir), {
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        { patterns: [...patterns, { group: ["**/apps/**", "../../*/src/**"], message: "no app imports another app" }] },
      ],
    },
  });
}
