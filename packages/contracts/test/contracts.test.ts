import { describe, expect, it } from "vitest";
import { MalformedMessageError, commandSchemas, eventSchemas, makeMessage, newId, parseMessage, subjectOf } from "../src";

const tenant = "8b0e6a8e-2d7c-4a57-9c55-0f4b8e3a9a10";

describe("ids", () => {
  it("are prefixed, sortable by time and unique", () => {
    const a = newId("bkp", 1_700_000_000_000);
    const b = newId("bkp", 1_700_000_000_001);
    expect(a).toMatch(/^bkp_[0-9a-z]{26}$/);
    expect(a < b).toBe(true);
    expect(new Set(Array.from({ length: 1000 }, () => newId("rst"))).size).toBe(1000);
  });
});

describe("messages", () => {
  it("every type name is versioned and unique", () => {
    const types = [...commandSchemas, ...eventSchemas].map((s) => s.shape.type.value);
    expect(new Set(types).size).toBe(types.length);
    for (const t of types) expect(t).toMatch(/^[a-z_]+(\.[a-z_]+)+\.v\d+$/);
  });

  it("round-trips a valid event through bytes", () => {
    const msg = makeMessage("backup.tenant.completed.v1", {
      backupId: newId("bkp"),
      tenantId: tenant,
      status: "degraded",
      size: 10,
      sha256: "a".repeat(64),
      rows: 3,
      providers: [
        { provider: "b2", ok: true },
        { provider: "r2", ok: false, error: "storage unavailable" },
      ],
      durationMs: 12,
    });
    expect(parseMessage(new TextEncoder().encode(JSON.stringify(msg)))).toEqual(msg);
    expect(subjectOf(msg.type)).toBe("evt.backup.tenant.completed.v1");
    expect(subjectOf("backup.tenant.job.v1")).toBe("cmd.backup.tenant.job.v1");
  });

  it("applies defaults on commands", () => {
    const msg = makeMessage("backup.tenant.requested.v1", { all: true, requestedBy: "admin" });
    expect(msg.data.purpose).toBe("on_demand");
  });

  const malformed: [string, unknown, RegExp][] = [
    ["not json", "{nope", /not valid JSON/],
    ["unknown type", { type: "backup.tenant.exploded.v1", id: "x", at: new Date().toISOString(), data: {} }, /unknown message type/],
    ["missing data fields", { type: "backup.tenant.started.v1", id: "x", at: new Date().toISOString(), data: { tenantId: tenant } }, /backupId/],
    [
      "bad id prefix",
      {
        type: "backup.tenant.started.v1",
        id: "x",
        at: new Date().toISOString(),
        data: { backupId: "rst_00000000000000000000000000", tenantId: tenant, purpose: "on_demand", attempt: 1 },
      },
      /data\.backupId: must be an id starting with bkp_/,
    ],
    ["bad timestamp", { type: "alert.raised.v1", id: "x", at: "yesterday", data: {} }, /at:/],
    [
      "injection in tenant id",
      {
        type: "backup.tenant.job.v1",
        id: "x",
        at: new Date().toISOString(),
        data: { tenantId: "a'; drop table x;--", purpose: "on_demand", requestedBy: "a" },
      },
      /data\.tenantId: must be a tenant id/,
    ],
    [
      "neither tenants nor all",
      { type: "backup.tenant.requested.v1", id: "x", at: new Date().toISOString(), data: { requestedBy: "a" } },
      /either tenantIds or all/,
    ],
    [
      "restore with backup and time",
      {
        type: "restore.requested.v1",
        id: "x",
        at: new Date().toISOString(),
        data: { operationId: newId("rst"), all: true, backupId: newId("bkp"), at: new Date().toISOString(), requestedBy: "a" },
      },
      /not both/,
    ],
    [
      "negative size",
      {
        type: "storage.replica.healed.v1",
        id: "x",
        at: new Date().toISOString(),
        data: { backupId: newId("bkp"), provider: "b2", copiedFrom: "r2", size: -1 },
      },
      /data\.size/,
    ],
    [
      "unknown provider",
      { type: "storage.replica.healed.v1", id: "x", at: new Date().toISOString(), data: { backupId: newId("bkp"), provider: "s3", copiedFrom: "r2", size: 1 } },
      /data\.provider/,
    ],
  ];
  for (const [name, input, pattern] of malformed) {
    it(`rejects a malformed message with a readable error: ${name}`, () => {
      let error: unknown;
      try {
        parseMessage(typeof input === "string" ? input : JSON.stringify(input));
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(MalformedMessageError);
      expect((error as Error).message).toMatch(pattern);
    });
  }
});
