import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeArtifact } from "@hesaab/artifacts";
import { connectBus, type Bus } from "@hesaab/bus";
import { masterKeySet } from "@hesaab/config";
import { newId, type Message, type MessageOf } from "@hesaab/contracts";
import { KeyRing, TenantKeyStore } from "@hesaab/crypto";
import {
  getBackupRecord,
  insertBackupRecord,
  migrate,
  openCatalog,
  storedArtifactColumns,
  updateBackupRecord,
  type BackupRecord,
  type Catalog,
} from "@hesaab/db";
import { keysSidecarKey, openBackend, readAll, readMetaSidecar, tenantBackupKey, type OpenedBackend, type StorageBackend } from "@hesaab/storage";
import { freshDatabase, testEnv, testProviderConfig, uniquePrefix, waitFor, type FreshDatabase } from "@hesaab/testkit";
import { loadEnv } from "../src/env";
import { startStorageService, type RunningService } from "../src/service";

const MASTER = `1:${randomBytes(32).toString("base64")}`;
const busPrefix = `S${randomBytes(3).toString("hex")}`;
const keyPrefix = uniquePrefix("storage-svc");
let db: FreshDatabase;
let catalog: Catalog;
let keyRing: KeyRing;
let control: Bus;
let watch: { stop(): Promise<void> };
let service: RunningService;
let b2: OpenedBackend;
let r2: OpenedBackend;
const seen: Message[] = [];

function provider(name: "b2" | "r2"): OpenedBackend {
  return openBackend({
    backend: testProviderConfig(name),
    faults: true,
    keyPrefix,
    retry: { attempts: 2, baseDelayMs: 10 },
  });
}

/** A tenant backup stored (B2 and R2 as given) and recorded as tenant-backup does; returns the record and the outcomes for the event. */
async function storeBackup(
  tenantId: string,
  backends: StorageBackend[],
): Promise<{ record: BackupRecord; outcomes: { provider: "b2" | "r2"; ok: boolean }[] }> {
  const createdAt = new Date();
  const backupId = newId("bkp");
  const key = tenantBackupKey({ tenantId, backupId, createdAt });
  await insertBackupRecord(catalog.db, {
    id: backupId,
    backupType: "tenant",
    tenantId,
    filename: key.slice(key.lastIndexOf("/") + 1),
    encryptionKeyId: "",
    status: "running",
    createdAt,
  });
  const stored = await storeArtifact({
    plaintext: Readable.from([randomBytes(20_000)]),
    identity: { kind: "tenant", tenantId, backupId },
    keyRing,
    backends,
    key,
    gzipLevel: 6,
    meta: { type: "tenant", createdAt },
  });
  const record = (await updateBackupRecord(catalog.db, { id: backupId, set: { ...storedArtifactColumns({ key, stored }), metadata: { key } } }))!;
  return { record, outcomes: stored.outcomes.map((o) => ({ provider: o.provider as "b2" | "r2", ok: o.ok })) };
}

const sha = async (backend: StorageBackend, key: string) =>
  createHash("sha256")
    .update(await readAll(await backend.get(key)))
    .digest("hex");

beforeAll(async () => {
  db = await freshDatabase("ssvc");
  await migrate({ url: db.url });
  catalog = openCatalog({ url: db.url, max: 3 });
  keyRing = new KeyRing({ tenantKeys: new TenantKeyStore({ pool: catalog.pool, masterKeys: masterKeySet.parse(MASTER) }) });
  b2 = provider("b2");
  r2 = provider("r2");
  control = await connectBus({ url: testEnv().NATS_URL!, name: "test-control", prefix: busPrefix });
  await control.ensureStreams();
  watch = await control.consumeEvents({ durable: "test-watch", filter: "evt.>", handler: async (m) => void seen.push(m) });
  service = await startStorageService(
    loadEnv({
      ...testEnv(),
      STORAGE_SVC_HTTP_PORT: "0",
      PLATFORM_DATABASE_URL: db.url,
      BACKUP_DATABASE_URL: db.url,
      BACKUP_MASTER_KEYS: MASTER,
      HESAAB_BUS_PREFIX: busPrefix,
      STORAGE_KEY_PREFIX: keyPrefix,
      STORAGE_SCHEDULES_ENABLED: "false",
      STORAGE_ACK_WAIT_MS: "5000",
    }),
  );
});
afterAll(async () => {
  await service?.stop();
  await watch?.stop();
  await control?.deleteStreams().catch(() => {});
  await control?.close();
  await catalog?.close();
  await db?.drop();
});

describe("storage-svc", () => {
  it("heals a backup stored while one provider failed, on its stored event", async () => {
    r2.faults!.failAlways("put");
    let stored;
    try {
      stored = await storeBackup("t1", [b2.backend, r2.backend]);
    } finally {
      r2.faults!.clear();
    }
    const { record, outcomes } = stored;
    expect(record.status).toBe("degraded");
    await control.publish("storage.artifact.stored.v1", {
      backupId: record.id,
      backupType: "tenant",
      tenantId: "t1",
      key: record.metadata.key as string,
      size: record.fileSize,
      sha256: record.checksum,
      providers: outcomes,
    });

    const healed = await waitFor(async () => seen.find((m) => m.type === "storage.replica.healed.v1" && m.data.backupId === record.id), "the healed event");
    expect(healed.data).toMatchObject({ provider: "r2", copiedFrom: "b2", size: record.fileSize });
    const after = await waitFor(async () => {
      const r = await getBackupRecord(catalog.db, record.id);
      return r?.status === "completed" && r;
    }, "the record to complete");
    expect(after).toMatchObject({ verificationStatus: "verified", r2Location: record.b2Location });
    const key = record.metadata.key as string;
    for (const k of [key, keysSidecarKey(key)]) expect(await sha(r2.backend, k)).toBe(await sha(b2.backend, k));
    expect(await readMetaSidecar({ backend: r2.backend, artifactKey: key })).toEqual(await readMetaSidecar({ backend: b2.backend, artifactKey: key }));
  });

  it("answers verify and replicate commands: a corrupt copy is found and replaced, deep verification decrypts", async () => {
    const { record } = await storeBackup("t2", [b2.backend, r2.backend]);
    const key = record.metadata.key as string;
    const bytes = await readAll(await r2.backend.get(key));
    bytes[bytes.length - 3]! ^= 0x10;
    await r2.backend.put(key, bytes);
    await control.publish("storage.verify.requested.v1", { backupId: record.id, deep: true, requestedBy: "test" });
    const deep = await waitFor(async () => {
      const { rows } = await catalog.pool.query("select provider, ok from backup.verifications where backup_id = $1 and depth = 'deep' order by provider", [
        record.id,
      ]);
      return rows.length === 2 && rows;
    }, "both deep verifications");
    expect(deep).toEqual([
      { provider: "b2", ok: true },
      { provider: "r2", ok: true },
    ]); // healed before the deep check
    expect(await sha(r2.backend, key)).toBe(record.checksum);
    const verdicts = seen
      .filter((m) => m.type === "storage.verification.result.v1" && m.data.backupId === record.id)
      .map((m) => m.data as { provider: string; depth: string; ok: boolean });
    expect(verdicts).toContainEqual(expect.objectContaining({ provider: "r2", depth: "keyless", ok: false }));

    await b2.backend.delete(key);
    await control.publish("storage.replicate.requested.v1", { backupId: record.id, reason: "test" });
    await waitFor(
      async () => seen.find((m) => m.type === "storage.replica.healed.v1" && m.data.backupId === record.id && m.data.provider === "b2"),
      "b2 healed",
    );
    expect(await sha(b2.backend, key)).toBe(record.checksum);
  });

  it("reports a verification started through the API: one progress event per backup checked, then the outcome", async () => {
    const first = await storeBackup("t-verify", [b2.backend, r2.backend]);
    const second = await storeBackup("t-verify", [b2.backend, r2.backend]);
    const operationId = newId("op");
    await control.publish("storage.verify.requested.v1", { tenantId: "t-verify", operationId, requestedBy: "test" });
    const done = await waitFor(async () => seen.find((m) => m.type === "storage.verify.completed.v1" && m.data.operationId === operationId), "the outcome");
    expect(done.data).toMatchObject({ backups: 2, failed: [], deep: false });
    const progress = seen
      .filter((m): m is MessageOf<"storage.verify.progress.v1"> => m.type === "storage.verify.progress.v1" && m.data.operationId === operationId)
      .map((m) => m.data);
    expect(progress.map((p) => [p.done, p.total, p.ok])).toEqual([
      [1, 2, true],
      [2, 2, true],
    ]);
    expect(progress.map((p) => p.backupId).sort()).toEqual([first.record.id, second.record.id].sort());
  });
});
