import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureStack, readStackEnv, s3Answers, stopStack } from "../src";

// A private stack (own directory, own ports) so this test never disturbs the shared one.
const dir = mkdtempSync(path.join(os.tmpdir(), "hesaab-stack-"));
const ports = { b2Port: 19_000 + Math.floor(Math.random() * 500), r2Port: 19_600 + Math.floor(Math.random() * 500) };

afterAll(() => {
  stopStack(dir);
  rmSync(dir, { recursive: true, force: true });
});

describe("local stack", () => {
  it("comes up from nothing, then a second call reuses what runs", async () => {
    const first = await ensureStack({ dir, ...ports, database: "hesaab_stack_test" });
    expect(first.parts.b2).toBe("started");
    expect(first.parts.r2).toBe("started");
    expect(await s3Answers(`http://127.0.0.1:${ports.b2Port}/`)).toBe(true);

    const second = await ensureStack({ dir, ...ports, database: "hesaab_stack_test" });
    expect(second.parts).toEqual({ postgres: "reused", nats: "reused", b2: "reused", r2: "reused" });
    // Same keys and env on the second call: nothing is regenerated.
    expect(second.env).toEqual(first.env);
    expect(readStackEnv(dir).B2_ENDPOINT_URL).toBe(`http://127.0.0.1:${ports.b2Port}`);
  });

  it("stops the endpoints it started", async () => {
    expect(stopStack(dir).sort()).toEqual(["b2", "r2"]);
    await new Promise((r) => setTimeout(r, 500));
    expect(await s3Answers(`http://127.0.0.1:${ports.b2Port}/`, 500)).toBe(false);
  });
});
