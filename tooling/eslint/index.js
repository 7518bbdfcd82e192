// Shared lint setup. The layer rules live here, in one place:
//   - no app imports another app (apps are deployable shells);
//   - packages never import apps;
//   - the SPAs import only *types* from the gateway (its router type), never values;
//   - `process.env` is read only in an app's `src/env.ts` or in packages/config.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export const APPS = ["gateway", "backup-svc", "storage-svc", "dr-svc", "cli", "admin-web", "tenant-web"];

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
        { selector: "MemberExpression[object.name='process'][property.name='env']", message: "read configuration through src/env.ts (one validated config module per app)" },
      ],
    },
  },
  {
    files: ["**/env.ts", "**/*.test.ts", "**/test/**", "**/bench/**", "**/scripts/**"],
    rules: { "no-restricted-syntax": "off" },
  },
);

/** @param {string[]} names @param {string} why */
const forbidApps = (names, why) =>
  names.flatMap((name) => [
    { group: [`@hesaab/${name}`, `@hesaab/${name}/*`], message: why },
  ]);

/** Lint config for a package under packages/: it may not import any app. */
export function packageConfig() {
  return tseslint.config(...base, {
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        { patterns: [...forbidApps(APPS, "packages never import apps"), { group: ["**/apps/**"], message: "packages never import apps" }] },
      ],
    },
  });
}

/** Lint config for an app: it may not import another app. SPAs may import the gateway's types only. */
export function appConfig(/** @type {{ name: string, spa?: boolean }} */ { name, spa = false }) {
  const others = APPS.filter((a) => a !== name);
  const patterns = spa
    ? [
        ...forbidApps(others.filter((a) => a !== "gateway"), "no app imports another app"),
        { group: ["@hesaab/gateway", "@hesaab/gateway/*"], message: "SPAs import only the gateway's router type (import type)", allowTypeImports: true },
        { group: ["@hesaab/*", "!@hesaab/gateway", "!@hesaab/gateway/*", "!@hesaab/contracts", "!@hesaab/web-session"], message: "SPAs depend on the API's types, not on server packages", allowTypeImports: true },
      ]
    : forbidApps(others, "no app imports another app");
  return tseslint.config(...base, {
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        { patterns: [...patterns, { group: ["**/apps/**", "../../*/src/**"], message: "no app imports another app" }] },
      ],
    },
  });
}
