import { readFile, mkdir, writeFile, stat } from "node:fs/promises";
import path from "node:path";
import { DrError } from "./errors";

/**
 * The configuration bundle: the files named by configuration (compose files, env files…), which
 * hold secrets, so the bundle is encrypted like everything else. Plain JSON inside: a person with
 * the key can read it without our software.
 */
export interface ConfigBundle {
  format: "hesaab-config-bundle";
  version: 1;
  files: { path: string; mode: number; content: string /* base64 */ }[];
}

export async function buildConfigBundle(files: string[]): Promise<ConfigBundle> {
  const out: ConfigBundle = { format: "hesaab-config-bundle", version: 1, files: [] };
  for (const file of files) {
    try {
      const [content, info] = await Promise.all([readFile(file), stat(file)]);
      out.files.push({ path: path.resolve(file), mode: info.mode & 0o777, content: content.toString("base64") });
    } catch (err) {
      throw new DrError({ code: "dr_config_invalid", message: `cannot read configuration file ${file}: ${(err as Error).message}`, hint: "Fix DR_CONFIG_FILES", cause: err });
    }
  }
  return out;
}

/** Writes a bundle's files under `dir`, keeping each file's path below it (absolute paths are re-rooted). */
export async function writeConfigBundle({ bundle, dir }: { bundle: ConfigBundle; dir: string }): Promise<string[]> {
  if (bundle.format !== "hesaab-config-bundle") throw new DrError({ code: "dr_manifest_mismatch", message: "not a configuration bundle" });
  const written: string[] = [];
  for (const f of bundle.files) {
    const target = path.join(dir, path.normalize(f.path).replace(/^(\.\.(\/|\\|$))+/, ""));
    if (!target.startsWith(path.resolve(dir))) throw new DrError({ code: "dr_manifest_mismatch", message: `unsafe path in configuration bundle: ${f.path}` });
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, Buffer.from(f.content, "base64"), { mode: f.mode || 0o600 });
    written.push(target);
  }
  return written;
}
