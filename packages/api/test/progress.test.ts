import { describe, expect, it } from "vitest";
import { makeMessage, newId, type DataInput, type Event, type MessageType } from "@hesaab/contracts";
import { followOperation, type ProgressView, type ReadEvents } from "../src/progress";

// The fold on its own: events as the stream would hold them (contract messages, in sequence order), read
// by a reader that honours `types` as the bus's does. What the gateway and the bus add is in the gateway's
// integration test.

const at0 = Date.parse("2026-12-04T10:00:00.000Z");

function stored<T extends MessageType>(seconds: number, type: T, data: DataInput<T>): Event {
  return { ...makeMessage(type, data), at: new Date(at0 + seconds * 1000).toISOString() } as Event;
}

function reader(events: Event[]): ReadEvents {
  return async function* ({ types }) {
    for (const [i, message] of events.entries()) if (types.includes(message.type)) yield { seq: i + 1, message };
  };
}

async function all(it: AsyncIterable<ProgressView>): Promise<ProgressView[]> {
  const out: ProgressView[] = [];
  for await (const v of it) out.push(v);
  return out;
}

const op = newId("evt");
const bkp = newId("bkp");
const progress = (tablesDone: number, operationId = op) => ({
  backupId: bkp,
  tenantId: "t1",
  tablesDone,
  tablesTotal: 4,
  rows: tablesDone * 10,
  bytes: tablesDone * 100,
  operationId,
});

describe("followOperation", () => {
  const events = [
    stored(0, "backup.tenant.started.v1", { backupId: bkp, tenantId: "t1", purpose: "on_demand", attempt: 1, operationId: op }),
    stored(1, "alert.raised.v1", { alertId: newId("alr"), severity: "info", code: "x", message: "another type" }),
    stored(2, "backup.tenant.progress.v1", progress(1)),
    stored(3, "backup.tenant.progress.v1", progress(3, newId("evt"))), // another operation's
    stored(4, "backup.tenant.progress.v1", progress(2)),
    stored(6, "backup.tenant.completed.v1", {
      backupId: bkp,
      tenantId: "t1",
      status: "completed",
      size: 1,
      sha256: "a".repeat(64),
      rows: 40,
      providers: [],
      durationMs: 6000,
      operationId: op,
    }),
    stored(7, "backup.tenant.progress.v1", progress(4)), // after the end: never read
  ];

  it("keeps the operation's events; percent by tables; ETA from the events' own times; ends on the outcome", async () => {
    const views = await all(followOperation(reader(events), { kind: "backup", operationId: op }));
    expect(views.map((v) => [v.id, v.type, v.percent, v.etaSeconds, v.final])).toEqual([
      ["1", "backup.tenant.started.v1", 0, undefined, undefined],
      ["3", "backup.tenant.progress.v1", 25, 6, undefined], // 2 s for 25 %: 6 s for the 75 % left
      ["5", "backup.tenant.progress.v1", 50, 4, undefined],
      ["6", "backup.tenant.completed.v1", 100, undefined, true],
    ]);
    expect(views.at(-1)).toMatchObject({ outcome: "completed", rows: 40 });
  });

  it("resumes after a last event id with the same views as before, and none again", async () => {
    const whole = await all(followOperation(reader(events), { kind: "backup", operationId: op }));
    const rest = await all(followOperation(reader(events), { kind: "backup", operationId: op, lastEventId: "3" }));
    expect(rest).toEqual(whole.slice(2));
  });

  it("waits for every queued tenant; one failed for good and one completed is partial; a failure with a retry to follow is not the end", async () => {
    const b2 = newId("bkp");
    const failed = (final: boolean) => ({
      tenantId: "t2",
      backupId: b2,
      attempt: 1,
      final,
      error: { code: "boom", message: "it broke", retryable: !final },
      operationId: op,
    });
    const two = [...events.slice(0, 6), stored(7, "backup.tenant.failed.v1", failed(false)), stored(8, "backup.tenant.failed.v1", failed(true))];
    const views = await all(followOperation(reader(two), { kind: "backup", operationId: op, tenantIds: ["t1", "t2"] }));
    expect(views.filter((v) => v.final)).toHaveLength(1);
    expect(views.at(-1)).toMatchObject({ id: "8", final: true, outcome: "partial", error: { code: "boom" } });
    const percents = views.map((v) => v.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a! - b!));
  });
});

describe("followOperation: a disaster backup", () => {
  it("learns the backup's id from its progress, so the outcome that names only the backup ends it", async () => {
    const dr = newId("evt");
    const id = newId("bkp");
    const events = [
      stored(0, "dr.backup.progress.v1", { backupId: id, phase: "preparing", bytes: 0, operationId: dr }),
      stored(1, "dr.backup.progress.v1", { backupId: id, phase: "dumping", bytes: 16 << 20, operationId: dr }),
      stored(2, "dr.backup.completed.v1", { backupId: newId("bkp"), status: "completed", size: 1, sha256: "b".repeat(64), providers: [], durationMs: 1 }),
      stored(3, "dr.backup.completed.v1", { backupId: id, status: "degraded", size: 9, sha256: "c".repeat(64), providers: [], durationMs: 3000 }),
    ];
    const views = await all(followOperation(reader(events), { kind: "disaster_backup", operationId: dr }));
    expect(views.map((v) => [v.id, v.phase, v.bytes, v.final, v.outcome])).toEqual([
      ["1", "preparing", 0, undefined, undefined],
      ["2", "dumping", 16 << 20, undefined, undefined],
      ["4", undefined, 9, true, "degraded"],
    ]);
  });
});

describe("followOperation: a verification", () => {
  it("counts backups checked of those it covers, then ends partial when one of them failed", async () => {
    const ver = newId("op");
    const [a, b] = [newId("bkp"), newId("bkp")];
    const events = [
      stored(0, "storage.verify.progress.v1", { operationId: ver, backupId: a, done: 1, total: 2, ok: true }),
      stored(1, "storage.verify.progress.v1", { operationId: newId("op"), backupId: a, done: 1, total: 1, ok: true }), // another operation's
      stored(3, "storage.verify.progress.v1", { operationId: ver, backupId: b, done: 2, total: 2, ok: false }),
      stored(4, "storage.verify.completed.v1", { operationId: ver, backups: 2, failed: [b], deep: true }),
    ];
    const views = await all(followOperation(reader(events), { kind: "verification", operationId: ver }));
    expect(views.map((v) => [v.id, v.percent, v.etaSeconds, v.final, v.outcome])).toEqual([
      ["1", 50, undefined, undefined, undefined],
      ["3", 99, 0, undefined, undefined],
      ["4", 100, undefined, true, "partial"],
    ]);
  });
});

describe("followOperation: restores", () => {
  const rst = newId("rst");
  const step = (tenantId: string, percentage: number, phase: "verifying" | "restoring" | "checking" = "restoring") => ({
    operationId: rst,
    tenantId,
    phase,
    percentage,
    bytesDone: percentage,
    bytesTotal: 100,
    rowsDone: percentage,
  });

  it("averages the tenants' percents (one ending early does not jump to 100) and ends at the outcome", async () => {
    const events = [
      stored(0, "restore.progress.v1", step("t1", 0, "verifying")),
      stored(1, "restore.progress.v1", step("t1", 100, "checking")),
      stored(2, "restore.progress.v1", { ...step("t9", 50), operationId: newId("rst") }),
      stored(3, "restore.progress.v1", step("t2", 50)),
      stored(4, "restore.completed.v1", { operationId: rst, status: "completed", tenants: [] }),
    ];
    const views = await all(followOperation(reader(events), { kind: "restore", operationId: rst, tenantIds: ["t1", "t2"] }));
    expect(views.map((v) => [v.tenantId, v.percent, v.final, v.outcome])).toEqual([
      ["t1", 0, undefined, undefined],
      ["t1", 50, undefined, undefined],
      ["t2", 75, undefined, undefined],
      [undefined, 100, true, "completed"],
    ]);
  });

  it("a rollback ends at restore.rolled_back.v1: failed when a tenant was not put back", async () => {
    const events = [stored(0, "restore.rolled_back.v1", { operationId: rst, requestedBy: "admin:a", tenants: [{ tenantId: "t1", ok: false }] })];
    expect(await all(followOperation(reader(events), { kind: "rollback", operationId: rst }))).toMatchObject([
      { final: true, outcome: "failed", percent: 100 },
    ]);
  });

  it("a disaster restore: percent by step, never back; a manifest mismatch is its own outcome; a failure carries its code", async () => {
    const op = "op_dr_1";
    const events = [
      stored(0, "dr.restore.progress.v1", { operationId: op, phase: "probing" }),
      stored(1, "dr.restore.progress.v1", { operationId: op, phase: "fetching", provider: "r2" }),
      stored(2, "dr.restore.progress.v1", { operationId: op, phase: "restoring", provider: "r2" }),
      stored(3, "dr.restore.progress.v1", { operationId: op, phase: "checking" }),
      stored(4, "dr.restore.completed.v1", {
        operationId: op,
        backupId: newId("bkp"),
        ok: false,
        target: "postgres://x/y",
        providerUsed: "r2",
        fellBack: true,
        tables: 3,
        mismatches: 1,
        durationMs: 10,
      }),
    ];
    const views = await all(followOperation(reader(events), { kind: "disaster_restore", operationId: op }));
    expect(views.map((v) => [v.phase, v.percent, v.outcome])).toEqual([
      ["probing", 1, undefined],
      ["fetching", 5, undefined],
      ["restoring", 50, undefined],
      ["checking", 90, undefined],
      [undefined, 100, "mismatched"],
    ]);
    const failed = [stored(0, "dr.restore.failed.v1", { operationId: op, error: { code: "dr_target_is_live", message: "no" } })];
    expect(await all(followOperation(reader(failed), { kind: "disaster_restore", operationId: op }))).toMatchObject([
      { final: true, outcome: "failed", error: { code: "dr_target_is_live" } },
    ]);
  });
});

describe("followOperation: a backup no cloud took", () => {
  it("ends spooled once each tenant ended, one of them in the local spool", async () => {
    const op2 = newId("evt");
    const [b1, b2] = [newId("bkp"), newId("bkp")];
    const events = [
      stored(0, "backup.tenant.completed.v1", {
        backupId: b1,
        tenantId: "t1",
        status: "completed",
        size: 1,
        sha256: "a".repeat(64),
        rows: 4,
        providers: [],
        durationMs: 1,
        operationId: op2,
      }),
      stored(1, "backup.tenant.spooled.v1", {
        backupId: b2,
        tenantId: "t2",
        key: "k",
        size: 9,
        sha256: "b".repeat(64),
        rows: 7,
        error: "both down",
        operationId: op2,
      }),
    ];
    const views = await all(followOperation(reader(events), { kind: "backup", operationId: op2, tenantIds: ["t1", "t2"] }));
    expect(views.map((v) => [v.tenantId, v.percent, v.final, v.outcome])).toEqual([
      ["t1", 50, undefined, undefined],
      ["t2", 100, true, "spooled"],
    ]);
  });
});
