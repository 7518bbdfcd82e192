import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/** One code raised in source: the file (relative to `root`) and the code. */
export interface RaisedCode {
  file: string;
  code: string;
}

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(p);
    else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts")) yield p;
  }
}

/**
 * The error codes that `src` folders raise as literals: every `code: "…"` (each string of a
 * conditional too) in the options of `new SomethingError({ … })` or of a `somethingError({ … })`
 * factory. Codes given as constants (`CryptoErrorCode.X`) or passed on (`err.code`) are typed, not
 * listed here. `root` is the repository; `folders` are paths under it, where a `*` segment stands
 * for every folder there (`["packages", "*", "src"]` joined with slashes).
 */
export function raisedErrorCodes(root: string, folders: string[]): RaisedCode[] {
  const found: RaisedCode[] = [];
  for (const folder of folders) {
    const [base, rest] = folder.split("/*/");
    const dirs =
      rest === undefined
        ? [path.join(root, folder)]
        : readdirSync(path.join(root, base!), { withFileTypes: true })
            .filter((d) => d.isDirectory())
            .map((d) => path.join(root, base!, d.name, rest));
    for (const dir of dirs) {
      let files: string[];
      try {
        files = [...sourceFiles(dir)];
      } catch {
        continue; // a package without that folder
      }
      for (const file of files) {
        const src = readFileSync(file, "utf8");
        for (const m of src.matchAll(/(?:\bnew\s+\w*Error|\b\w*[eE]rror)\s*\(\s*\{/g)) {
          // the options object: up to its closing brace
          let i = m.index + m[0].length;
          for (let depth = 1; i < src.length && depth > 0; i++) depth += src[i] === "{" ? 1 : src[i] === "}" ? -1 : 0;
          const option = /(?:^|[\s,{])code:\s*([^,\n]+)/.exec(src.slice(m.index + m[0].length, i - 1));
          for (const code of option?.[1]?.matchAll(/"([a-z0-9_]+)"/g) ?? []) found.push({ file: path.relative(root, file), code: code[1]! });
        }
      }
    }
  }
  return found;
}
