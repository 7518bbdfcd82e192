import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { asLog, createLogger, prettyLine } from "../src";

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  let text = "";
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return {
    stream,
    lines: () =>
      text
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe("createLogger", () => {
  it("writes one JSON line per entry: level as a word, at, message, the service's name", () => {
    const out = capture();
    const log = asLog(createLogger({ service: "backup-svc", destination: out.stream }));
    log.warn("nats disconnected; reconnecting", { connection: "backup-svc" });
    const [line] = out.lines();
    expect(line).toMatchObject({ level: "warn", service: "backup-svc", message: "nats disconnected; reconnecting", connection: "backup-svc" });
    expect(new Date(String(line!.at)).toISOString()).toBe(line!.at);
  });

  it("redacts secret-named fields at the top level and one level down", () => {
    const out = capture();
    const secret = "s3cr3t-value-never-logged";
    const log = asLog(createLogger({ service: "t", destination: out.stream }));
    log.error("provider refused", { secretAccessKey: secret, provider: { name: "b2", accessKeyId: secret }, headers: { authorization: `Bearer ${secret}` } });
    const text = JSON.stringify(out.lines());
    expect(text).not.toContain(secret);
    expect(out.lines()[0]).toMatchObject({ secretAccessKey: "[redacted]", provider: { name: "b2", accessKeyId: "[redacted]" } });
  });

  it("prints a readable line on a terminal", () => {
    const line = prettyLine(JSON.stringify({ level: "info", at: "2026-01-01T02:03:04.000Z", service: "dr-svc", message: "dr-svc started", providers: ["b2"] }));
    expect(line).toContain("02:03:04");
    expect(line).toContain('dr-svc: dr-svc started providers=["b2"]');
  });
});
