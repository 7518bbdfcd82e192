// Where a single signed PUT goes (the URL the signature covers). Virtual-host style cannot be run
// against s3rver here (bucket.127.0.0.1 does not resolve), so it is checked as a value.
import { describe, expect, it } from "vitest";
import { objectUrl } from "../src/backends/s3/signed-put";

describe("objectUrl", () => {
  const key = "tenants/a b+c~ä/!x(1)*.bkp";
  const encoded = "tenants/a%20b%2Bc~%C3%A4/%21x%281%29%2A.bkp";

  it("path style: endpoint/bucket/key, each key segment encoded, the port kept", () => {
    expect(objectUrl({ endpoint: new URL("http://127.0.0.1:9101"), bucket: "hesaab-b2", key, forcePathStyle: true })).toEqual({
      protocol: "http:",
      hostname: "127.0.0.1",
      port: 9101,
      host: "127.0.0.1:9101",
      path: `/hesaab-b2/${encoded}`,
    });
  });

  it("virtual-host style: bucket.endpoint/key; https on its default port", () => {
    expect(objectUrl({ endpoint: new URL("https://s3.us-east-005.backblazeb2.com"), bucket: "hesaab-b2", key, forcePathStyle: false })).toEqual({
      protocol: "https:",
      hostname: "hesaab-b2.s3.us-east-005.backblazeb2.com",
      port: undefined,
      host: "hesaab-b2.s3.us-east-005.backblazeb2.com",
      path: `/${encoded}`,
    });
  });

  it("path style without forcePathStyle too, as the SDK does, for an IP endpoint or a bucket that is not one DNS label", () => {
    const url = (endpoint: string, bucket: string): string => {
      const u = objectUrl({ endpoint: new URL(endpoint), bucket, key: "k", forcePathStyle: false });
      return `${u.host}${u.path}`;
    };
    expect(url("http://127.0.0.1:9101", "hesaab-b2")).toBe("127.0.0.1:9101/hesaab-b2/k");
    expect(url("http://[::1]:9101", "hesaab-b2")).toBe("[::1]:9101/hesaab-b2/k");
    expect(url("https://s3.example.com", "my.bucket")).toBe("s3.example.com/my.bucket/k");
    expect(url("https://s3.example.com", "My_Bucket")).toBe("s3.example.com/My_Bucket/k");
    expect(url("http://localhost:9101", "hesaab-b2")).toBe("hesaab-b2.localhost:9101/k");
  });

  it("keeps a base path of the endpoint", () => {
    expect(objectUrl({ endpoint: new URL("https://gw.example/s3/"), bucket: "bkt", key: "k", forcePathStyle: true }).path).toBe("/s3/bkt/k");
    expect(objectUrl({ endpoint: new URL("https://gw.example/s3"), bucket: "bkt", key: "k", forcePathStyle: false })).toMatchObject({
      host: "bkt.gw.example",
      path: "/s3/k",
    });
  });
});
