import { parseKeySidecar, serializeKeySidecar, type KeyRing, type KeySidecar } from "@hesaab/crypto";
import { backupRecords, type CatalogDb } from "@hesaab/db";
import { DISASTER_PREFIX, groupArtifacts, keysSidecarKey, readAll, rewriteKeysSidecar, withKeyPrefix, type StorageBackend } from "@hesaab/storage";
import { eq } from "drizzle-orm";
import { describe } from "./describe";

/**
 * Platform key rotation, as for tenant keys: every disaster backup's key sidecar is re-wrapped under
 * the highest DR_MASTER_KEYS version (`KeyRing.rewrap`) and written back in place, in every
 * provider, and in the catalog when there is one. The artifacts' bytes never change. An old
 * master key version may be removed from DR_MASTER_KEYS once a run reports no failures.
 */

export interface RotateDisasterKeysOptions {
  backends: StorageBackend[];
  /** Must hold the current versions of the sidecars and the new (highest) one. */
  keyRing: KeyRing;
  /** Re-wrap `key_sidecar` (and the config part's sidecar in `metadata`) of the catalog's disaster records too. */
  catalog?: CatalogDb | undefined;
  /** Report what would change, write nothing. */
  dryRun?: boolean | undefined;
  root?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface RewrapOutcome {
  /** Object key (provider) or `catalog:<backup id>[:config]`. */
  key: string;
  from: number | null;
  to: number | null;
  changed: boolean;
  error?: { code: string; message: string };
}

export interface ProviderRotation {
  provider: string;
  ok: boolean;
  /** Listing failed: nothing was done in this provider. */
  error?: { code: string; message: string };
  sidecars: number;
  rewrapped: number;
  current: number;
  failed: number;
  outcomes: RewrapOutcome[];
}

export interface RotationReport {
  dryRun: boolean;
  /** No failure anywhere: old key versions are no longer needed by any sidecar that was found. */
  ok: boolean;
  providers: ProviderRotation[];
  catalog: { records: number; rewrapped: number; failed: number; outcomes: RewrapOutcome[]; error?: { code: string; message: string } } | null;
}

export async function rotateDisasterKeys(opts: RotateDisasterKeysOptions): Promise<RotationReport> {
  const backends = opts.backends.map((b) => withKeyPrefix(b, opts.root ?? ""));
  const dryRun = Boolean(opts.dryRun);
  const providers = await Promise.all(backends.map((backend) => rotateProvider({ backend, keyRing: opts.keyRing, dryRun, signal: opts.signal })));
  const catalog = opts.catalog ? await rotateCatalog({ db: opts.catalog, keyRing: opts.keyRing, dryRun }) : null;
  const ok = providers.every((p) => p.ok && p.failed === 0) && (!catalog || (!catalog.error && catalog.failed === 0));
  return { dryRun, ok, providers, catalog };
}

async function rewrapOne({
  keyRing,
  sidecar,
  key,
}: {
  keyRing: KeyRing;
  sidecar: KeySidecar | string;
  key: string;
}): Promise<{ outcome: RewrapOutcome; next?: KeySidecar }> {
  let from: number | null = null;
  try {
    const parsed = parseKeySidecar(sidecar);
    from = Math.max(...parsed.slots.map((s) => s.keyVersion));
    const next = await keyRing.rewrap({ sidecar: parsed });
    const to = Math.max(...next.slots.map((s) => s.keyVersion));
    return { outcome: { key, from, to, changed: to !== from }, next };
  } catch (err) {
    const { code, message } = describe(err);
    return { outcome: { key, from, to: null, changed: false, error: { code, message } } };
  }
}

async function rotateProvider({
  backend,
  keyRing,
  dryRun,
  signal,
}: {
  backend: StorageBackend;
  keyRing: KeyRing;
  dryRun: boolean;
  signal?: AbortSignal | undefined;
}): Promise<ProviderRotation> {
  const report: ProviderRotation = { provider: backend.name, ok: true, sidecars: 0, rewrapped: 0, current: 0, failed: 0, outcomes: [] };
  const keys: { key: string; artifactKey: string; backupId: string }[] = [];
  try {
    for await (const item of groupArtifacts(backend.list(DISASTER_PREFIX, signal ? { signal } : {}))) {
      if (item.parsed.type === "disaster" && item.keys)
        keys.push({ key: keysSidecarKey(item.parsed.artifactKey), artifactKey: item.parsed.artifactKey, backupId: item.parsed.backupId });
    }
  } catch (err) {
    const { code, message } = describe(err);
    return { ...report, ok: false, error: { code, message } };
  }
  for (const { key, artifactKey, backupId } of keys) {
    report.sidecars++;
    let result: { outcome: RewrapOutcome; next?: KeySidecar };
    try {
      const text = (await readAll(await backend.get(key, signal ? { signal } : {}))).toString("utf8");
      result = await rewrapOne({ keyRing, sidecar: text, key });
      if (result.next && result.next.backupId !== backupId) {
        result = {
          outcome: {
            ...result.outcome,
            changed: false,
            error: { code: "key_sidecar_invalid", message: `sidecar names backup ${result.next.backupId}, its key ${backupId}` },
          },
        };
      }
      if (result.next && result.outcome.changed && !dryRun) {
        await rewriteKeysSidecar({ backend, artifactKey, keys: Buffer.from(serializeKeySidecar(result.next)), signal });
      }
    } catch (err) {
      const { code, message } = describe(err);
      result = { outcome: { key, from: null, to: null, changed: false, error: { code, message } } };
    }
    report.outcomes.push(result.outcome);
    if (result.outcome.error) report.failed++;
    else if (result.outcome.changed) report.rewrapped++;
    else report.current++;
  }
  return report;
}

async function rotateCatalog({ db, keyRing, dryRun }: { db: CatalogDb; keyRing: KeyRing; dryRun: boolean }): Promise<NonNullable<RotationReport["catalog"]>> {
  const out: NonNullable<RotationReport["catalog"]> = { records: 0, rewrapped: 0, failed: 0, outcomes: [] };
  let rows: { id: string; keySidecar: Record<string, unknown> | null; metadata: Record<string, unknown> }[];
  try {
    rows = await db
      .select({ id: backupRecords.id, keySidecar: backupRecords.keySidecar, metadata: backupRecords.metadata })
      .from(backupRecords)
      .where(eq(backupRecords.backupType, "disaster"));
  } catch (err) {
    const { code, message } = describe(err);
    return { ...out, error: { code, message } };
  }
  for (const row of rows) {
    if (!row.keySidecar) continue;
    out.records++;
    const data = await rewrapOne({ keyRing, sidecar: row.keySidecar as unknown as KeySidecar, key: `catalog:${row.id}` });
    const config = row.metadata.config as { keySidecar?: KeySidecar } | undefined;
    const configResult = config?.keySidecar ? await rewrapOne({ keyRing, sidecar: config.keySidecar, key: `catalog:${row.id}:config` }) : undefined;
    const results = configResult ? [data, configResult] : [data];
    out.outcomes.push(...results.map((r) => r.outcome));
    if (results.some((r) => r.outcome.error)) {
      out.failed++;
      continue;
    }
    if (!results.some((r) => r.outcome.changed)) continue;
    out.rewrapped++;
    if (dryRun) continue;
    const metadata = configResult?.next ? { ...row.metadata, config: { ...config, keySidecar: configResult.next } } : row.metadata;
    try {
      await db
        .update(backupRecords)
        .set({ keySidecar: data.next as unknown as Record<string, unknown>, metadata })
        .where(eq(backupRecords.id, row.id));
    } catch (err) {
      const { code, message } = describe(err);
      out.failed++;
      out.rewrapped--;
      out.outcomes.push({ key: `catalog:${row.id}`, from: null, to: null, changed: false, error: { code, message } });
    }
  }
  return out;
}
