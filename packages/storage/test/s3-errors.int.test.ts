// Misconfiguration must read as a clear sentence naming the provider and the bucket, not a stack
// trace. s3rver does not check signatures, so wrong credentials are exercised through what it
// does refuse: a bucket that does not exist, and an endpoint nobody listens on.
import { createServer } from "node:net";
import { Readable } from "node:stream";
import { inspect } from "node:util";
import { Secret } from "@hesaab/config";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBackend, readAll } from "../src";
import { errorOf, freshBucket, s3Config, s3Test } from "./helpers";

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe("s3 backend: misconfiguration and outages", () => {
  it("a missing bucket is storage_bucket_missing naming the provider and the bucket, for every operation", async () => {
    const b = s3Test("r2", { bucket: "no-such-bucket-hesaab" });
    const ops: Array<[string, () => Promise<unknown>]> = [
      ["put", () => b.put("k", Buffer.from("x"))],
      ["put-stream", () => b.put("k", Readable.from([Buffer.from("x")]))],
      ["get", () => b.get("k")],
      ["head", () => b.head("k")],
      ["delete", () => b.delete("k")],
      [
        "list",
        async () => {
          for await (const _ of b.list("")) {
            /* nothing */
          }
        },
      ],
    ];
    for (const [op, call] of ops) {
      const err = await errorOf(call());
      expect(err.code, op).toBe("storage_bucket_missing");
      expect(err.retryable).toBe(false);
      expect(err.provider).toBe("r2");
      expect(err.message).toContain('r2: bucket "no-such-bucket-hesaab" does not exist');
      expect(err.hint).toContain("R2_BUCKET_NAME");
      expect(err.message).not.toMatch(/S3RVER|at .*\.js/);
      expect(inspect(err, { depth: 10 })).not.toMatch(/S3RVER|authorization/i); // the SDK's raw HTTP exchange is not kept
    }
  });

  it("an unreachable endpoint is a retryable storage_unavailable naming the provider, without secrets", async () => {
    const port = await deadPort();
    const b = s3Test("b2", { endpoint: `http://user:hunter2@127.0.0.1:${port}`, sdkMaxAttempts: 1 });
    for (const call of [
      () => b.head("k"),
      () => b.get("k"),
      () => b.put("k", Buffer.from("x")),
      () => b.put("k", Readable.from([Buffer.from("x")])),
      () => b.delete("k"),
    ]) {
      const err = await errorOf(call());
      expect(err.code).toBe("storage_unavailable");
      expect(err.retryable).toBe(true);
      expect(err.provider).toBe("b2");
      expect(err.message).toMatch(/^b2: .* unavailable \(ECONNREFUSED\)$/);
      expect(err.message).not.toContain("hunter2");
      expect(JSON.stringify(err.toJSON())).not.toContain("hunter2");
    }
  });

  it("through openBackend the retry decorator retries an outage, then gives up with the same clear error", async () => {
    const port = await deadPort();
    const retries: string[] = [];
    const { backend, metrics } = openBackend({
      backend: { kind: "s3", ...s3Config("b2", { endpoint: `http://127.0.0.1:${port}`, sdkMaxAttempts: 1 }) },
      retry: { attempts: 3, baseDelayMs: 1, onRetry: (i) => retries.push(i.op) },
    });
    const err = await errorOf(backend.head("k"));
    expect(err.code).toBe("storage_unavailable");
    expect(retries).toEqual(["head", "head"]);
    expect(metrics!.snapshot().ops.head).toMatchObject({ calls: 3, errors: 3 });
  });

  it("credentials are only revealed to build the client: the backend prints none", () => {
    const b = s3Test("b2", { credentials: { accessKeyId: new Secret("AKIAEXAMPLE"), secretAccessKey: new Secret("very-secret") } });
    expect(JSON.stringify(b)).not.toContain("very-secret");
    expect(String(Object.values(b))).not.toContain("very-secret");
  });

  describe("in a bucket of its own", () => {
    let bucket: string;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ bucket, cleanup } = await freshBucket("b2"));
    });
    afterAll(() => cleanup());

    it("lists a whole bucket page by page and round-trips", async () => {
      const b = s3Test("b2", { bucket });
      for (let i = 0; i < 7; i++) await b.put(`k${i}`, Buffer.from(String(i)));
      const keys: string[] = [];
      for await (const e of b.list("", { pageSize: 3 })) keys.push(e.key);
      expect(keys).toEqual(["k0", "k1", "k2", "k3", "k4", "k5", "k6"]);
      expect((await readAll(await b.get("k6"))).toString()).toBe("6");
    });
  });
});
