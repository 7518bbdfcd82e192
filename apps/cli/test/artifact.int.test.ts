// `hesaab artifact inspect|decrypt` end to end: the real CLI process, real files, a real catalog database.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { masterKeySet } from "@hesaab/config";
import { KeyRing, TenantKeyStore, createEncryptStream, serializeKeySidecar, type ArtifactIdentity } from "@hesaab/crypto";
import { migrate } from "@hesaab/db";
import { freshDatabase, type FreshDatabase } from "@hesaab/testkit";
import { runCli } from "./run-cli";

const keyList = (v: number, fill: number) => `${v}:${Buffer.alloc(32, fill).toString("base64")}`;
const BACKUP_MASTER_KEYS = keyList(1, 41);
const DR_MASTER_KEYS = keyList(2, 42);

let dir: string;
let database: FreshDatabase;
let store: TenantKeyStore;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "cli-artifact-"));
  database = await freshDatabase("crypto_test_cli");
  await migrate({ url: database.url });
  store = TenantKeyStore.connect({ url: database.url, masterKeys: masterKeySet.parse(BACKUP_MASTER_KEYS) });
});

afterAll(async () => {
  await store?.close();
  await database?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, env, { buffer: true });

async function writeArtifact(ring: KeyRing, identity: ArtifactIdentity, name: string) {
  const sealed = await ring.sealNewArtifact(identity);
  const data = randomBytes(3 * 4096 + 99);
  const file = path.join(dir, name);
  await pipeline(
    Readable.from([data]),
    createEncryptStream({ ...identity, dek: sealed.dek, dekId: sealed.dekId, contentEncoding: "gzip", chunkLog2: 12 }),
    new Writable({
      write(chunk: Buffer, _e, cb) {
        writeFileSync(file, chunk, { flag: "a" });
        cb();
      },
    }),
  );
  writeFileSync(`${file}.keys.json`, serializeKeySidecar(sealed.sidecar));
  return { file, data };
}

describe("hesaab artifact", () => {
  it("inspect shows the header without keys", async () => {
    const ring = new KeyRing({ drMasterKeys: masterKeySet.parse(DR_MASTER_KEYS) });
    const { file } = await writeArtifact(ring, { kind: "platform", tenantId: "", backupId: "dr_inspect" }, "inspect.bkp1");
    const { code, stdout } = await cli(["artifact", "inspect", file, "--json"]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout.toString())).toMatchObject({
      kind: "platform",
      tenantId: "",
      backupId: "dr_inspect",
      contentEncoding: "gzip",
      chunkLog2: 12,
      plaintextBytes: 3 * 4096 + 99,
      chunks: 4,
      lengthConsistent: true,
      sidecar: { dekIdMatches: true, slots: [{ type: "platform", keyVersion: 2 }] },
    });
  });

  it("decrypts a platform artifact with DR_MASTER_KEYS alone, to stdout or --out", async () => {
    const identity = { kind: "platform" as const, tenantId: "", backupId: "dr_1" };
    const { file, data } = await writeArtifact(new KeyRing({ drMasterKeys: masterKeySet.parse(DR_MASTER_KEYS) }), identity, "dr.bkp1");
    const toStdout = await cli(["artifact", "decrypt", file, "--kind", "platform", "--backup", "dr_1"], { DR_MASTER_KEYS });
    expect(toStdout.stderr).toBe("");
    expect(toStdout.stdout.equals(data)).toBe(true);
    const out = path.join(dir, "dr.out");
    const toFile = await cli(["artifact", "decrypt", file, "--kind", "platform", "--backup", "dr_1", "--out", out], { DR_MASTER_KEYS });
    expect(toFile.code).toBe(0);
    expect(readFileSync(out).equals(data)).toBe(true);
  });

  it("decrypts a tenant backup with master keys and catalog seeds, and refuses the wrong tenant or a tampered file", async () => {
    const identity = { kind: "tenant" as const, tenantId: "tenant-cli", backupId: "bkp_cli" };
    const { file, data } = await writeArtifact(new KeyRing({ tenantKeys: store }), identity, "tenant.bkp1");
    const env = { BACKUP_MASTER_KEYS, BACKUP_DATABASE_URL: database.url };
    const out = path.join(dir, "tenant.out");

    const ok = await cli(["artifact", "decrypt", file, "--tenant", "tenant-cli", "--backup", "bkp_cli", "--out", out], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(readFileSync(out).equals(data)).toBe(true);

    const wrong = await cli(["artifact", "decrypt", file, "--tenant", "tenant-other", "--backup", "bkp_cli", "--keys", `${file}.keys.json`], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("[artifact_wrong_tenant]");

    const tampered = path.join(dir, "tampered.bkp1");
    const bytes = readFileSync(file);
    bytes[bytes.length - 40] = bytes[bytes.length - 40]! ^ 1;
    writeFileSync(tampered, bytes);
    const out2 = path.join(dir, "tampered.out");
    const bad = await cli(
      ["artifact", "decrypt", tampered, "--tenant", "tenant-cli", "--backup", "bkp_cli", "--keys", `${file}.keys.json`, "--out", out2],
      env,
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("[artifact_chunk_auth_failed]");
    expect(existsSync(out2)).toBe(false);

    const noKeys = await cli(["artifact", "decrypt", file, "--tenant", "tenant-cli", "--backup", "bkp_cli"], { BACKUP_DATABASE_URL: database.url });
    expect(noKeys.code).toBe(1);
    expect(noKeys.stderr).toContain("BACKUP_MASTER_KEYS");
  });
});
