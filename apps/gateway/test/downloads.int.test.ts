// Download links, hardened (issue 12): a token given once and only in the form the gateway writes;
// a missing or changed file refused or cut off with a sentence and a log line, never counted; a cap
// on downloads per export. Real gateway, real files encrypted by the real BKP1 code.
import { createHmac, randomBytes } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encryptBuffer, serializeKeySidecar } from "@hesaab/crypto";
import { auditLog, customerExports } from "@hesaab/db";
import { buildCustomerExport, requestCustomerExport } from "@hesaab/tenant-backup";
import { waitFor } from "@hesaab/testkit";
import { startHarness, type Harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("gw_downloads", { tenants: 5, env: { CUSTOMER_EXPORT_MAX_DOWNLOADS: "2" } });
}, 120_000);
afterAll(async () => {
  await h?.stop();
});

const hmac = (text: string) => createHmac("sha256", Buffer.from(h.secret, "utf8")).update(text).digest("base64url");
let days = 0;

/** A ready export of `tenantId` (each on a day of its own) and the link the gateway would give for it. */
async function readyExport(tenantId: string): Promise<{ id: string; path: string; expires: number; signature: string; url: (token?: string) => string }> {
  const now = new Date(Date.UTC(2026, 0, 1 + days++));
  const { export: e } = await requestCustomerExport(h.deps, { tenantId, requestedBy: "test", now, tokenFor: (id) => hmac(`export-token:${id}`) });
  const ready = await buildCustomerExport(h.deps, { exportId: e.id });
  // built "on" that day: still downloadable today
  await h.catalog.db
    .update(customerExports)
    .set({ expiresAt: new Date(Date.now() + 3_600_000) })
    .where(eq(customerExports.id, e.id));
  const expires = Math.floor(Date.now() / 1000) + 600;
  const signature = hmac(`export-link:${tenantId}:${e.id}:${expires}`);
  return {
    id: e.id,
    path: ready.localPath!,
    expires,
    signature,
    url: (token = `${expires}.${signature}`) => `${h.gateway.address}/exports/${tenantId}/${e.id}/download?token=${token}`,
  };
}

async function downloads(id: string): Promise<{ count: number; audited: number }> {
  const [row] = await h.catalog.db.select().from(customerExports).where(eq(customerExports.id, id));
  const audited = await h.catalog.db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.targetId, id), eq(auditLog.action, "customer_export.download")));
  return { count: row!.downloadCount, audited: audited.length };
}

/** The export's file replaced by a real BKP1 artifact of 256 KiB in 4 KiB chunks (its own key sidecar), one byte flipped at `at`. */
async function tampered(tenantId: string, e: { id: string; path: string }, at: number): Promise<void> {
  const sealed = await h.deps.keyRing.sealNewArtifact({ kind: "customer", tenantId, backupId: e.id });
  const artifact = encryptBuffer(
    { dek: sealed.dek, dekId: sealed.dekId, kind: "customer", tenantId, backupId: e.id, contentEncoding: "none", chunkLog2: 12 },
    randomBytes(256 * 1024),
  );
  artifact[at]! ^= 1;
  await writeFile(`${e.path}.keys.json`, serializeKeySidecar(sealed.sidecar));
  await writeFile(e.path, artifact);
}

describe("download links", () => {
  it("take their token once, only as the gateway writes it", async () => {
    const a = h.activeTenants()[0]!;
    const e = await readyExport(a);
    const repeated = await fetch(`${e.url()}&token=${e.expires}.${e.signature}`);
    expect(repeated.status).toBe(400);
    expect(await repeated.json()).toEqual({
      code: "invalid_input",
      message: expect.stringMatching(/must appear once/) as string,
      hint: "Open My data again and use the link it gives",
      retryable: false,
    });

    // the same bytes spelled otherwise: padded, with the unused low bits of the last character set, the expiry with a leading zero, a part more
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = alphabet.indexOf(e.signature.at(-1)!);
    expect(last % 4, "a 32-byte signature leaves two bits of its last character unused").toBe(0);
    const lowBits = `${e.signature.slice(0, -1)}${alphabet[last + 1]}`;
    expect(Buffer.from(lowBits, "base64url")).toEqual(Buffer.from(e.signature, "base64url"));
    for (const token of [`${e.expires}.${e.signature}=`, `${e.expires}.${lowBits}`, `0${e.expires}.${e.signature}`, `${e.expires}.${e.signature}.x`]) {
      const res = await fetch(e.url(encodeURIComponent(token)));
      expect(res.status, token).toBe(404);
      expect(await res.json()).toMatchObject({ code: "export_not_found" });
    }
    const res = await fetch(e.url());
    expect(res.status).toBe(200);
    expect(
      Buffer.from(await res.arrayBuffer())
        .subarray(0, 4)
        .toString("latin1"),
    ).toBe("PK\u0003\u0004");
  });

  it("are capped per export (CUSTOMER_EXPORT_MAX_DOWNLOADS), counted and audited once delivered", async () => {
    const a = h.activeTenants()[0]!;
    const e = await readyExport(a);
    for (let i = 1; i <= 2; i++) {
      const res = await fetch(e.url());
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      await waitFor(async () => {
        const d = await downloads(e.id);
        return d.count === i && d.audited === i;
      }, `download ${i} counted and audited`);
    }
    expect(await downloads(e.id)).toEqual({ count: 2, audited: 2 });
    const third = await fetch(e.url());
    expect(third.status).toBe(410);
    expect(await third.json()).toEqual({
      code: "export_download_limit",
      message: `export ${e.id} was downloaded 2 times, the most it may be`,
      hint: "Ask for a new export tomorrow",
      retryable: false,
    });
  });

  it("of a file no longer there: 410 with a sentence, no path; logged; not counted", async () => {
    const b = h.activeTenants()[1]!;
    const e = await readyExport(b);
    await rm(e.path);
    const res = await fetch(e.url());
    expect(res.status).toBe(410);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ code: "export_file_missing", message: expect.stringMatching(/no longer on this server/) as string });
    expect(text).not.toContain(h.dataDir);
    expect(h.logs.some((l) => l.msg === "export download refused" && l.exportId === e.id && l.code === "export_file_missing")).toBe(true);
    expect(await downloads(e.id)).toEqual({ count: 0, audited: 0 });
  });

  it("of a file changed after its first chunks: the connection ends in error, not a short ZIP; logged; not counted", async () => {
    const b = h.activeTenants()[1]!;
    const e = await readyExport(b);
    await tampered(b, e, 200_000); // past the first read of the file: some chunks are sent before the bad one
    const res = await fetch(e.url());
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow();
    await waitFor(() => h.logs.some((l) => l.msg === "export download failed while streaming" && l.exportId === e.id), "the failure logged");
    expect(await downloads(e.id)).toEqual({ count: 0, audited: 0 });
  });

  it("of a file changed in its first chunk: 500 with a sentence; logged; not counted", async () => {
    const c = h.activeTenants()[2]!;
    const e = await readyExport(c);
    const size = (await readFile(e.path)).length;
    expect(size).toBeGreaterThan(0);
    await tampered(c, e, 200); // inside chunk 0 (after the header)
    const res = await fetch(e.url());
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ code: "internal", message: "the request failed on our side; try again in a moment", hint: null, retryable: false });
    expect(h.logs.some((l) => l.msg === "export download failed while streaming" && l.exportId === e.id)).toBe(true);
    expect(await downloads(e.id)).toEqual({ count: 0, audited: 0 });
  });
});
