// A Buffer of at most one part is sent as one PUT signed by the backend itself (SignedPut), not
// through the SDK's Upload. s3rver does not check V4 signatures, so these tests put a proxy in front
// of it that checks them as B2 and R2 do, and compare the errors with those of the SDK's path.
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { inspect } from "node:util";
import { Secret } from "@hesaab/config";
import { testProviders, waitFor } from "@hesaab/testkit";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { etagProvesCopy, readAll, UploadEtags, type StorageBackend, type StorageError } from "../src";
import { expectStorageError } from "./conformance";
import { cuttingProxy } from "./cutting-proxy";
import { deletePrefix, errorOf, s3Config, s3Test, uniquePrefix } from "./helpers";
import { errorXml, s3Proxy, type S3Proxy } from "./s3-proxy";

const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

describe("s3 backend: a Buffer put as one signed PUT", () => {
  const prefix = uniquePrefix("signed-put");
  const { bucket } = s3Config("b2");
  let proxy: S3Proxy;
  let b: StorageBackend;

  beforeAll(async () => {
    proxy = await s3Proxy({ target: s3Config("b2").endpoint, secretAccessKey: testProviders().b2.secretAccessKey });
    b = s3Test("b2", { endpoint: proxy.url, sdkMaxAttempts: 1 });
  });
  beforeEach(() => {
    proxy.requests.length = 0;
  });
  afterAll(async () => {
    await proxy.close();
    await deletePrefix("b2", prefix);
  });

  it("stores the exact bytes, content type and metadata with one correctly signed PUT", async () => {
    const key = `${prefix}small`;
    const data = randomBytes(8192);
    const metadata = { sha256: sha256(data), "backup-id": "bkp_01h" };
    const put = await b.put(key, data, { metadata, contentType: "application/x-bkp1" });
    expect(put).toEqual({ key, size: data.length, etag: expect.stringMatching(/^".+"$/) });
    expect(proxy.requests).toEqual([{ method: "PUT", path: `/${bucket}/${key}`, query: "", problem: undefined }]);
    expect((await readAll(await b.get(key))).equals(data)).toBe(true);
    expect(await b.head(key)).toMatchObject({ size: data.length, metadata, contentType: "application/x-bkp1", etag: put.etag });
  });

  it("signs a sha256 given as metadata as the payload hash (not hashed twice): a body that does not match it is refused", async () => {
    const key = `${prefix}claimed-sha`;
    const data = randomBytes(4096);
    const err = await errorOf(b.put(key, data, { metadata: { sha256: sha256(Buffer.from("other bytes")) } }));
    expect(err).toMatchObject({ provider: "b2", retryable: false });
    expect(proxy.requests.map((r) => r.problem)).toEqual(["x-amz-content-sha256 is not the SHA-256 of the body"]);
    expect(await b.head(key)).toBeNull();
  });

  it("encodes keys with spaces, '+', '~', unicode and reserved characters as S3 signs them", async () => {
    const key = `${prefix}odd/a b+c~d ä 日本 !'()*&=;,$@:.bin`;
    const data = Buffer.from("odd key");
    await b.put(key, data);
    expect(proxy.requests.map((r) => r.problem)).toEqual([undefined]);
    expect(proxy.requests[0]!.path).toContain("/odd/a%20b%2Bc~d%20%C3%A4%20%E6%97%A5%E6%9C%AC%20%21%27%28%29%2A%26%3D%3B%2C%24%40%3A.bin");
    const listed = [];
    for await (const e of b.list(`${prefix}odd/`)) listed.push(e.key);
    expect(listed).toEqual([key]);
    expect((await readAll(await b.get(key))).equals(data)).toBe(true);
  });

  it("the SDK's own requests pass the same signature check (the check agrees with the SDK)", async () => {
    await b.put(`${prefix}via-sdk`, Readable.from([Buffer.from("x")]), { metadata: { v: "1" } });
    expect(proxy.requests.length).toBeGreaterThan(0);
    expect(proxy.requests.map((r) => r.problem)).toEqual(proxy.requests.map(() => undefined));
  });

  it("a wrong secret is storage_auth_failed, and no secret is in the error", async () => {
    const secret = "not-the-secret-x9";
    const wrong = s3Test("b2", {
      endpoint: proxy.url,
      credentials: { accessKeyId: new Secret(testProviders().b2.accessKeyId), secretAccessKey: new Secret(secret) },
    });
    const err = await errorOf(wrong.put(`${prefix}wrong-secret`, Buffer.from("x")));
    expect(err).toMatchObject({ code: "storage_auth_failed", retryable: false, provider: "b2" });
    expect(err.message).toContain("(SignatureDoesNotMatch)");
    expect(inspect(err, { depth: 10 })).not.toMatch(new RegExp(`${secret}|authorization|AWS4-HMAC`, "i"));
    expect(JSON.stringify(err.toJSON())).not.toContain(secret);
  });

  it("errors from the endpoint read exactly as they do through the SDK's Upload", async () => {
    const answers = [
      { status: 503, body: errorXml("SlowDown", "Please reduce your request rate."), code: "storage_unavailable" },
      { status: 500, body: errorXml("InternalError", "We encountered an internal error."), code: "storage_unavailable" },
      { status: 429, body: errorXml("TooManyRequests", "slow down"), code: "storage_unavailable" },
      { status: 502, body: "<html>bad gateway</html>", code: "storage_unavailable" },
      { status: 403, body: errorXml("AccessDenied", "Access Denied"), code: "storage_auth_failed" },
      { status: 404, body: errorXml("NoSuchBucket", "The specified bucket does not exist"), code: "storage_bucket_missing" },
      { status: 400, body: errorXml("InvalidArgument", "bad &amp; wrong"), code: "storage_rejected" },
    ];
    const view = (e: StorageError): unknown => ({ code: e.code, retryable: e.retryable, message: e.message, hint: e.hint, context: e.context });
    for (const a of answers) {
      proxy.answerNext(a, 2);
      const signed = await errorOf(b.put(`${prefix}err`, Buffer.from("x")));
      const sdk = await errorOf(b.put(`${prefix}err`, Readable.from([Buffer.from("x")])));
      expect(signed.code, `${a.status}`).toBe(a.code);
      expect(view(signed), `${a.status}`).toEqual(view(sdk));
    }
  });

  it("a Buffer of one part is one PUT; a larger one goes multipart", async () => {
    const { partSize = 0 } = s3Config("b2");
    const one = randomBytes(partSize);
    await b.put(`${prefix}one-part`, one);
    expect(proxy.requests.map((r) => `${r.method} ${r.query}`)).toEqual(["PUT "]);

    proxy.requests.length = 0;
    const two = randomBytes(partSize + 1);
    await b.put(`${prefix}two-parts`, two);
    // method and query parameter names (x-id, the SDK's operation name, left out)
    const seen = proxy.requests.map(
      (r) =>
        `${r.method} ${r.query
          .split("&")
          .map((p) => p.split("=")[0])
          .filter((n) => n !== "x-id")
          .join("&")}`,
    );
    expect(seen).toEqual(["POST uploads", "PUT partNumber&uploadId", "PUT partNumber&uploadId", "POST uploadId"]);
    expect(proxy.requests.map((r) => r.problem).filter(Boolean)).toEqual([]);

    expect(sha256(await readAll(await b.get(`${prefix}one-part`)))).toBe(sha256(one));
    expect(sha256(await readAll(await b.get(`${prefix}two-parts`)))).toBe(sha256(two));
  });

  it("a multipart upload whose part fails mid-way stops reading at once, aborts its upload and stores nothing", async () => {
    const { partSize = 0 } = s3Config("b2");
    proxy.requests.length = 0;
    let produced = 0;
    const source = Readable.from(
      (async function* () {
        for (let i = 0; i < 40; i++) {
          if (i === 2) {
            // the upload is created and its first part stored: the endpoint answers the next request (part 2) with an error
            await new Promise((r) => setTimeout(r, 50));
            proxy.answerNext({ status: 502, body: "<html>bad gateway</html>" }, 1);
          }
          produced++;
          yield randomBytes(partSize);
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
    );
    expect((await errorOf(b.put(`${prefix}broken-multipart`, source))).code).toBe("storage_unavailable");
    expect(produced).toBeLessThan(10); // not the whole 40 parts' worth
    await waitFor(() => proxy.requests.some((r) => r.method === "DELETE" && r.query.includes("uploadId")), "the upload aborted");
    expect(await b.head(`${prefix}broken-multipart`)).toBeNull();
  });

  it("a put aborted while in flight is storage_aborted; a silent endpoint times out as with the SDK", async () => {
    const stalling = await cuttingProxy(s3Config("b2").endpoint);
    try {
      const s = s3Test("b2", { endpoint: stalling.url, sdkMaxAttempts: 1, socketTimeoutMs: 300 });
      stalling.stallAfter(0); // the answer never comes
      const ac = new AbortController();
      const put = s.put(`${prefix}aborted`, randomBytes(1024), { signal: ac.signal });
      setTimeout(() => ac.abort(), 50);
      await expectStorageError(put, "storage_aborted", "b2");

      stalling.stallAfter(0, 2);
      const signed = await errorOf(s.put(`${prefix}stalled`, Buffer.from("x")));
      const sdk = await errorOf(s.put(`${prefix}stalled`, Readable.from([Buffer.from("x")])));
      expect(signed).toMatchObject({ code: "storage_unavailable", retryable: true });
      expect(signed.message).toBe(sdk.message);
    } finally {
      await stalling.close();
    }
  });
});

describe("s3 backend: the ETag of what was stored proves the copy (UploadEtags)", () => {
  const prefix = uniquePrefix("etag");
  afterAll(() => deletePrefix("b2", prefix));

  it("one PUT and a multipart stream both answer an ETag computed over the bytes sent", async () => {
    const b = s3Test("b2", { partSize: 5 * 1024 * 1024 });
    for (const size of [3000, 11 * 1024 * 1024 + 7]) {
      const data = randomBytes(size);
      const etags = new UploadEtags(5 * 1024 * 1024);
      etags.update(data);
      const chunks = [];
      for (let at = 0; at < size; at += 1 << 20) chunks.push(data.subarray(at, at + (1 << 20)));
      const result = await b.put(`${prefix}object-${size}`, Readable.from(chunks));
      expect(etagProvesCopy(result.etag, etags.digests())).toBe(true);
    }
  });
});
