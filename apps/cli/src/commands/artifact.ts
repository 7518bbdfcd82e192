// `hesaab artifact …`: look inside BKP1 artifacts and decrypt them, with nothing but the files,
// the environment's master keys and (for tenant data) the catalog database.
import { createReadStream, createWriteStream } from "node:fs";
import { readFile, rename, rm, stat } from "node:fs/promises";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type Command, Option } from "commander";
import { ConfigError } from "@hesaab/config";
import {
  KeyRing,
  MAX_HEADER_LEN,
  TenantKeyStore,
  createDecryptStream,
  parseKeySidecar,
  plaintextLength,
  readHeader,
  type ArtifactHeader,
  type ArtifactIdentity,
  type ArtifactKind,
  type KeySidecar,
} from "@hesaab/crypto";
import { drKeysEnv, tenantKeysEnv } from "../env";
import { CliError } from "../errors";
import { usageError } from "../options";
import { printJson, progressDone, progressLine } from "../output";

interface InspectFlags {
  json?: boolean;
}

interface DecryptFlags {
  tenant?: string;
  backup: string;
  kind: ArtifactKind;
  keys?: string;
  out?: string;
}

const sidecarPathFor = (file: string) => `${file}.keys.json`;

async function readSidecar(path: string): Promise<KeySidecar | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  return parseKeySidecar(text);
}

function describeHeader(header: ArtifactHeader, size: number) {
  const plaintextBytes = plaintextLength({ artifactLength: size, headerLen: header.headerLen, chunkLog2: header.chunkLog2 });
  return {
    formatVersion: header.formatVersion,
    alg: header.alg === 1 ? "aes-256-gcm chunks, hkdf-sha256, hmac-sha256 header mac" : `unknown (${header.alg})`,
    kind: header.kind,
    tenantId: header.tenantId,
    backupId: header.backupId,
    createdAt: new Date(header.createdAtMs).toISOString(),
    createdAtMs: header.createdAtMs,
    contentEncoding: header.contentEncoding,
    chunkLog2: header.chunkLog2,
    chunkSize: header.chunkSize,
    headerLen: header.headerLen,
    dekId: header.dekId.toString("hex"),
    streamSalt: header.streamSalt.toString("hex"),
    headerMac: header.headerMac.toString("hex"),
    artifactBytes: size,
    plaintextBytes: plaintextBytes ?? null,
    chunks: plaintextBytes === undefined ? null : Math.floor(plaintextBytes / header.chunkSize) + 1,
    lengthConsistent: plaintextBytes !== undefined,
  };
}

async function inspect(file: string, flags: InspectFlags): Promise<void> {
  const { size } = await stat(file);
  const header = await readHeader(createReadStream(file, { start: 0, end: 2 + MAX_HEADER_LEN - 1 }));
  const sidecarPath = sidecarPathFor(file);
  const sidecar = await readSidecar(sidecarPath);
  const result = {
    file,
    ...describeHeader(header, size),
    sidecar: sidecar
      ? {
          path: sidecarPath,
          dekIdMatches: sidecar.dekId === header.dekId.toString("hex"),
          slots: sidecar.slots.map((s) => ({ type: s.type, keyVersion: s.keyVersion })),
        }
      : null,
  };
  if (flags.json) return printJson(result);
  const rows: [string, unknown][] = Object.entries(result).filter(([k]) => k !== "sidecar");
  if (result.sidecar) {
    rows.push(["sidecar", result.sidecar.path]);
    rows.push(["sidecar slots", result.sidecar.slots.map((s) => `${s.type} v${s.keyVersion}`).join(", ")]);
    rows.push(["sidecar dekId matches", result.sidecar.dekIdMatches]);
  } else {
    rows.push(["sidecar", `none at ${sidecarPath}`]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(width)}  ${v === null ? "-" : String(v)}`).join("\n")}\n`);
  if (!result.lengthConsistent) process.stderr.write("warning: the file length is not that of a complete artifact (truncated or extra bytes)\n");
}

function expectedIdentity(flags: DecryptFlags): ArtifactIdentity {
  if (flags.kind === "platform") {
    if (flags.tenant) throw usageError("platform artifacts have no tenant: drop --tenant");
    return { kind: "platform", tenantId: "", backupId: flags.backup };
  }
  if (!flags.tenant) throw usageError(`--tenant is required for ${flags.kind} artifacts`);
  return { kind: flags.kind, tenantId: flags.tenant, backupId: flags.backup };
}

/** Opens the artifact's data key with the keys this kind needs: DR master keys, or master keys + catalog seeds. */
async function openDataKey({ sidecar, expect }: { sidecar: KeySidecar; expect: ArtifactIdentity }) {
  if (expect.kind === "platform") return new KeyRing(drKeysEnv()).openArtifact({ sidecar, expect });
  const { masterKeys, catalogUrl } = tenantKeysEnv();
  if (!catalogUrl) {
    throw new ConfigError({
      code: "config_invalid",
      message: "no catalog database for tenant keys",
      hint: "Set BACKUP_DATABASE_URL (or PLATFORM_DATABASE_URL)",
    });
  }
  const store = TenantKeyStore.connect({ url: catalogUrl, masterKeys });
  try {
    return await new KeyRing({ tenantKeys: store }).openArtifact({ sidecar, expect });
  } finally {
    await store.close();
  }
}

/** Counts plaintext bytes and shows progress on a terminal's stderr. */
function counter(total: number): Transform & { bytes: number } {
  let last = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      stream.bytes += chunk.length;
      if (stream.bytes - last >= 64 << 20) {
        last = stream.bytes;
        progressLine(`decrypted ${(stream.bytes / 1e6).toFixed(0)} MB of about ${(total / 1e6).toFixed(0)} MB`);
      }
      cb(null, chunk);
    },
  }) as Transform & { bytes: number };
  stream.bytes = 0;
  return stream;
}

async function decrypt(file: string, flags: DecryptFlags): Promise<void> {
  const expect = expectedIdentity(flags);
  if (!flags.out && process.stdout.isTTY) {
    throw usageError("refusing to write decrypted bytes to a terminal", "Use --out <file> or pipe the output");
  }
  const sidecarPath = flags.keys ?? sidecarPathFor(file);
  const sidecar = await readSidecar(sidecarPath);
  if (!sidecar) {
    throw new CliError({ code: "sidecar_missing", message: `no key sidecar at ${sidecarPath}`, hint: "Pass --keys <sidecar.json>" });
  }
  const { dek, dekId } = await openDataKey({ sidecar, expect });
  const { size } = await stat(file);
  const decryptor = createDecryptStream({ dek, dekId, expect });
  const count = counter(size);

  if (!flags.out) {
    await pipeline(createReadStream(file), decryptor, count, process.stdout);
    progressDone();
    return;
  }
  // Write beside the target and rename on success: a failed decrypt never leaves a plausible file.
  const partial = `${flags.out}.partial-${process.pid}`;
  try {
    await pipeline(createReadStream(file), decryptor, count, createWriteStream(partial, { flags: "wx" }));
    await rename(partial, flags.out);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  progressDone();
  process.stderr.write(`decrypted ${count.bytes} bytes (${decryptor.header?.contentEncoding ?? "?"}) to ${flags.out}\n`);
}

export function registerArtifact(program: Command): void {
  const artifact = program.command("artifact").description("inspect and decrypt BKP1 artifacts (encrypted backup bodies)");

  artifact
    .command("inspect <file>")
    .description("show an artifact's header fields (no keys needed; nothing is authenticated)")
    .option("--json", "print the result as JSON")
    .action((file: string, flags: InspectFlags) => inspect(file, flags));

  artifact
    .command("decrypt <file>")
    .description("decrypt an artifact after checking it is the expected tenant, backup and kind")
    .option("--tenant <id>", "the tenant the artifact must belong to (not for --kind platform)")
    .requiredOption("--backup <id>", "the backup id the artifact must carry")
    .addOption(new Option("--kind <kind>", "the artifact kind").choices(["tenant", "customer", "platform"]).default("tenant"))
    .option("--keys <sidecar.json>", "the key sidecar (default: <file>.keys.json)")
    .option("--out <file>", "write the plaintext here (default: stdout)")
    .addHelpText(
      "after",
      "\nKeys: tenant and customer artifacts use BACKUP_MASTER_KEYS and the tenant key seeds in the catalog\n" +
        "database (BACKUP_DATABASE_URL, else PLATFORM_DATABASE_URL); platform artifacts use DR_MASTER_KEYS only.",
    )
    .action((file: string, flags: DecryptFlags) => decrypt(file, flags));
}
