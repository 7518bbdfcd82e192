import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newId } from "@hesaab/contracts";
import { coveringFilter } from "../src/event-reader";
import type { Bus, StoredEvent } from "../src";
import { testBus } from "./helpers";

let bus: Bus & AsyncDisposable;

beforeEach(async () => {
  bus = await testBus();
});

afterEach(async () => {
  await bus.deleteStreams();
  await bus[Symbol.asyncDispose]();
});

const progress = (n: number) => ({
  backupId: newId("bkp"),
  tenantId: "t1",
  tablesDone: n,
  tablesTotal: 10,
  rows: n * 10,
  bytes: n * 100,
});

/** The first `count` events the reader yields, then stops it. */
async function take(events: AsyncGenerator<StoredEvent>, count: number): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const e of events) {
    out.push(e);
    if (out.length === count) break;
  }
  return out;
}

describe("readEvents", () => {
  it("reads only the given types, in stream order, and resumes right after a sequence", async () => {
    const seqs: number[] = [];
    for (let n = 1; n <= 3; n++) {
      seqs.push((await bus.publish("backup.tenant.progress.v1", progress(n))).seq);
      // the same subject family (the consumer's wildcard lets it through) and another one: neither is read
      await bus.publish("backup.tenant.started.v1", { backupId: newId("bkp"), tenantId: "t1", purpose: "on_demand", attempt: 1 });
      await bus.publish("alert.raised.v1", { alertId: newId("alr"), severity: "info", code: "noise", message: "not read" });
    }
    const all = await take(bus.readEvents({ types: ["backup.tenant.progress.v1", "backup.tenant.completed.v1"] }), 3);
    expect(all.map((e) => e.seq)).toEqual(seqs);
    expect(all.map((e) => e.message.type)).toEqual(["backup.tenant.progress.v1", "backup.tenant.progress.v1", "backup.tenant.progress.v1"]);

    // a reader that stopped after the first one resumes at the second, and waits for what comes next
    const resumed = bus.readEvents({ types: ["backup.tenant.progress.v1"], afterSeq: seqs[0]! });
    const two = await take(resumed, 2);
    expect(two.map((e) => e.seq)).toEqual(seqs.slice(1));
    const later = bus.readEvents({ types: ["backup.tenant.progress.v1"], afterSeq: seqs[2]! });
    const next = take(later, 1);
    const fourth = await bus.publish("backup.tenant.progress.v1", progress(4));
    expect((await next).map((e) => e.seq)).toEqual([fourth.seq]);
  });

  it("starts at a time when given no sequence, and returns once its signal aborts", async () => {
    await bus.publish("backup.tenant.progress.v1", progress(1));
    const since = new Date(Date.now() + 1); // strictly after the first event's storage time
    await new Promise((r) => setTimeout(r, 5));
    const second = await bus.publish("backup.tenant.progress.v1", progress(2));
    const ac = new AbortController();
    const seen: number[] = [];
    for await (const e of bus.readEvents({ types: ["backup.tenant.progress.v1"], since, signal: ac.signal })) {
      seen.push(e.seq);
      ac.abort();
    }
    expect(seen).toEqual([second.seq]);
  });
});

describe("coveringFilter", () => {
  it("is the subject itself, or the common tokens then >", () => {
    expect(coveringFilter(["evt.a.b.v1"])).toBe("evt.a.b.v1");
    expect(coveringFilter(["evt.backup.tenant.progress.v1", "evt.backup.tenant.completed.v1"])).toBe("evt.backup.tenant.>");
    expect(coveringFilter(["evt.backup.tenant.progress.v1", "evt.restore.progress.v1"])).toBe("evt.>");
    expect(coveringFilter(["evt.a", "evt.a.b"])).toBe("evt.>");
  });
});
