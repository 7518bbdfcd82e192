// loadAddon against real files in a temporary package layout: `src/` beside `build/`, and a bundle's
// folder with its addon beside it. A module that exports `version` stands for an addon (require
// loads it the same way, by path); a file that is not a shared object stands for one that does not load.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { loadAddon } from "../src/index";

let root: string;
const from = (dir: string) => pathToFileURL(path.join(root, dir, "index.js")).href;
const put = (file: string, text: string) => {
  mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  writeFileSync(path.join(root, file), text);
};
const load = (o: { dir: string; file: string; version?: number; fallback?: string }) =>
  loadAddon<{ version: number; answer?: number }>({
    from: from(o.dir),
    file: o.file,
    version: o.version ?? 2,
    pkg: "@hesaab/example",
    code: "HESAAB_EXAMPLE_FALLBACK",
    ...(o.fallback ? { fallback: o.fallback } : {}),
  });

let warnings: { message: string; code: string | undefined }[];
beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), "native-"));
  put("pkg/build/good.cjs", "module.exports = { version: 2, answer: 42 };");
  put("pkg/build/old.cjs", "module.exports = { version: 1 };");
  put("pkg/build/broken.node", "not a shared object");
  put("dist/beside.cjs", "module.exports = { version: 2, answer: 7 };");
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

function watchWarnings() {
  warnings = [];
  vi.spyOn(process, "emitWarning").mockImplementation(((message: string, o?: { code?: string }) => {
    warnings.push({ message, code: o?.code });
  }) as typeof process.emitWarning);
}

describe("loadAddon", () => {
  it("loads build/<file> from a package's src/ when its version is the expected one", () => {
    watchWarnings();
    expect(load({ dir: "pkg/src", file: "good.cjs" })?.answer).toBe(42);
    expect(warnings).toEqual([]);
  });

  it("loads <file> beside a bundle when there is no build/ folder", () => {
    watchWarnings();
    expect(load({ dir: "dist", file: "beside.cjs" })?.answer).toBe(7);
    expect(warnings).toEqual([]);
  });

  it("is undefined, and silent, when the addon was never built", () => {
    watchWarnings();
    expect(load({ dir: "pkg/src", file: "missing.node" })).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it("refuses another version with a warning naming the rebuild command and what runs instead", () => {
    watchWarnings();
    expect(load({ dir: "pkg/src", file: "old.cjs", fallback: "the JavaScript path" })).toBeUndefined();
    expect(warnings).toEqual([
      {
        code: "HESAAB_EXAMPLE_FALLBACK",
        message: "@hesaab/example: build/old.cjs is version 1, not 2 (rebuild: pnpm --filter @hesaab/example build:native); using the JavaScript path",
      },
    ]);
  });

  it("a built addon that does not load is a warning with the loader's reason, not a crash", () => {
    watchWarnings();
    expect(load({ dir: "pkg/src", file: "broken.node" })).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.code).toBe("HESAAB_EXAMPLE_FALLBACK");
    expect(warnings[0]!.message).toMatch(
      /^@hesaab\/example: build\/broken\.node does not load \(.+; rebuild: pnpm --filter @hesaab\/example build:native\); using node:zlib$/,
    );
  });
});
