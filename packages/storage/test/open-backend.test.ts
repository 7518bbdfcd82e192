import { Secret } from "@hesaab/config";
import { describe, expect, it } from "vitest";
import { openBackend, providersFromEnv, readAll } from "../src";
import { tempFsBackend } from "./helpers";

describe("openBackend", () => {
  it("builds retry → limit → metrics → fault → backend", async () => {
    const { root, cleanup } = await tempFsBackend();
    try {
      const { backend, metrics, faults } = openBackend({ backend: { kind: "fs", name: "fs", root }, faults: true, retry: { attempts: 3, baseDelayMs: 1 } });
      expect(backend.name).toBe("fs");
      faults!.failNext("put", 1);
      await backend.put("k", Buffer.from("v"));
      expect((await readAll(await backend.get("k"))).toString()).toBe("v");
      // metrics sits inside retry: it saw the failed attempt the caller never did
      expect(metrics!.snapshot().ops.put).toMatchObject({ calls: 2, errors: 1, bytes: 1 });
      expect(faults!.count("put")).toBe(2);
    } finally {
      await cleanup();
    }
  });

  it("leaves decorators out when asked", async () => {
    const { root, cleanup } = await tempFsBackend();
    try {
      const opened = openBackend({ backend: { kind: "fs", root }, retry: false, limit: false, metrics: false });
      expect(opened.metrics).toBeUndefined();
      expect(opened.faults).toBeUndefined();
      await opened.backend.put("k", Buffer.from("v"));
      expect(await opened.backend.head("k")).not.toBeNull();
    } finally {
      await cleanup();
    }
  });
});

describe("providersFromEnv", () => {
  const env = {
    B2_BUCKET_NAME: "b",
    B2_ENDPOINT_URL: "https://s3.us-east-005.backblazeb2.com",
    B2_ACCESS_KEY_ID: new Secret("kid"),
    B2_SECRET_ACCESS_KEY: new Secret("secret-b2"),
    B2_REGION: "us-east-005",
    B2_FORCE_PATH_STYLE: false,
    R2_BUCKET_NAME: "r",
    R2_ENDPOINT_URL: "https://acct.r2.cloudflarestorage.com",
    R2_ACCESS_KEY_ID: new Secret("rid"),
    R2_SECRET_ACCESS_KEY: new Secret("secret-r2"),
  };

  it("gives b2 then r2, with region and path-style defaults, secrets still wrapped", () => {
    const providers = providersFromEnv(env, { partSize: 16 * 1024 * 1024 });
    expect(providers.map((p) => [p.kind, p.name, p.bucket, p.region, p.forcePathStyle, p.partSize])).toEqual([
      ["s3", "b2", "b", "us-east-005", false, 16 * 1024 * 1024],
      ["s3", "r2", "r", "auto", true, 16 * 1024 * 1024],
    ]);
    expect(providers[1]!.credentials.secretAccessKey.reveal()).toBe("secret-r2");
    expect(JSON.stringify(providers)).not.toContain("secret-");
  });

  it("skips a provider that is not fully configured", () => {
    const { R2_SECRET_ACCESS_KEY: _drop, ...partial } = env;
    expect(providersFromEnv(partial).map((p) => p.name)).toEqual(["b2"]);
    expect(providersFromEnv({})).toEqual([]);
  });

  it("refuses credentials that were not parsed into Secrets", () => {
    const raw = { ...env, B2_SECRET_ACCESS_KEY: "plain" } as unknown as Parameters<typeof providersFromEnv>[0];
    expect(() => providersFromEnv(raw)).toThrow(/must be parsed with envPieces.b2/);
  });
});

describe("openBackend keyPrefix", () => {
  it("keeps every key under the folder, invisible to the caller", async () => {
    const { root, backend: raw, cleanup } = await tempFsBackend();
    try {
      const { backend } = openBackend({ backend: { kind: "fs", root }, keyPrefix: "run-7/" });
      expect((await backend.put("tenants/t/x", Buffer.from("v"))).key).toBe("tenants/t/x");
      const listed: string[] = [];
      for await (const e of backend.list("tenants/")) listed.push(e.key);
      expect(listed).toEqual(["tenants/t/x"]);
      expect(await raw.head("run-7/tenants/t/x")).not.toBeNull();
    } finally {
      await cleanup();
    }
  });
});
