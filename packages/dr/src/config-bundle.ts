import { readFile, mkdir, writeFile, stat } from "node:fs/promises";
import path from "node:path";
import { DrError } from "./errors";
import type { DrManifest } from "./manifest";
import type { RolesDump } from "./roles";

/**
 * The configuration bundle: the files named by configuration (compose files, env files…), which
 * hold secrets, so the bundle is encrypted like everything else. Plain JSON inside: a person with
 * the key can read it without our software.
 */
export interface ConfigBundle {
  format: "hesaab-config-bundle";
  version: 1;
  files: { path: string; mode: number; content: string /* base64 */ }[];
  /**
   * The backup's manifest (row counts, git commit, server version). A disaster backup's config
   * artifact carries it, so a restore needs nothing but the bucket to check what it restored.
   */
  manifest?: DrManifest;
  /** The server's roles when the backup was taken (backups made before roles were carried have none). */
  roles?: RolesDump;
}

/** Parses a configuration bundle (the plaintext of a disaster backup's config artifact). */
export function parseConfigBundle(text: string): ConfigBundle {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DrError({ code: "dr_manifest_mismatch", message: "the configuration bundle is not valid JSON" });
  }
  const b = value as Partial<ConfigBundle>;
  const filesOk = Array.isArray(b.files) && b.files.every((f) => typeof f?.path === "string" && typeof f.content === "string" && typeof f.mode === "number");
  if (b.format !== "hesaab-config-bundle" || b.version !== 1 || !filesOk) {
    throw new DrError({ code: "dr_manifest_mismatch", message: "the configuration bundle has an unknown format" });
  }
  return b as ConfigBundle;
}

export async function buildConfigBundle(files: string[]): Promise<ConfigBundle> {
  const out: ConfigBundle = { format: "hesaab-config-bundle", version: 1, files: [] };
  for (const file of files) {
    try {
      const [content, info] = await Promise.all([readFile(file), stat(file)]);
      out.files.push({ path: path.resolve(file), mode: info.mode & 0o777, content: content.toString("base64") });
    } catch (err) {
      throw new DrError({
        code: "dr_config_invalid",
        message: `cannot read configuration file ${file}: ${(err as Error).message}`,
        hint: "Fix DR_CONFIG_FILES",
        cause: err,
      });
    }
  }
  return out;
}

/** Writes a bundle's files under `dir`, keeping each file's path below it (absolute paths are re-rooted). */
export async function writeConfigBundle({ bundle, dir }: { bundle: ConfigBundle; dir: string }): Promise<string[]> {
  if (bundle.format !== "hesaab-config-bundle") throw new DrError({ code: "dr_manifest_mismatch", message: "not a configuration bundle" });
  const base = path.resolve(dir);
  const written: string[] = [];
  for (const f of bundle.files) {
    const target = path.join(base, path.normalize(f.path).replace(/^(\.\.(\/|\\|$))+/, ""));
    if (!target.startsWith(base + path.sep)) throw new DrError({ code: "dr_manifest_mismatch", message: `unsafe path in configuration bundle: ${f.path}` });
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, Buffer.from(f.content, "base64"), { mode: f.mode || 0o600 });
    written.push(target);
  }
  return written;
}
