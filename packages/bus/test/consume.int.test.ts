import { AckPolicy } from "@nats-io/jetstream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HesaabError } from "@hesaab/config";
import { COMMAND_FILTERS, MalformedMessageError, type Message } from "@hesaab/contracts";
import { DEAD_LETTER_HEADERS, type Bus, type DeadLetter } from "../src";
import { job, sleep, streamMessages, testBus } from "./helpers";
import { waitFor } from "@hesaab/testkit";

// Each test gets its own prefixed streams: a work queue allows one consumer per filter, and no test
// may see another's messages.
let bus: Bus & AsyncDisposable;

beforeEach(async () => {
  bus = await testBus();
});

afterEach(async () => {
  await bus.deleteStreams();
  await bus[Symbol.asyncDispose]();
});

const FILTER = "cmd.backup.tenant.job.v1";
const fast = { backoffMs: [50], ackWaitMs: 5_000, fetchExpiresMs: 1_000 };

async function deadLetterOn(subject: string) {
  return bus.jsm.streams.getMessage(bus.layout.stream("deadLetters"), { last_by_subj: bus.layout.subject(subject) });
}

/** Waits until the work queue holds no message of this file's job subject. */
async function workQueueEmpty() {
  await waitFor(async () => (await streamMessages(bus, "commands")) === 0, "an empty work queue");
}

describe("publish", () => {
  it("validates before sending: a malformed message never leaves the process", async () => {
    const before = await streamMessages(bus, "commands");
    await expect(bus.publish("backup.tenant.job.v1", { tenantId: "bad tenant!", purpose: "scheduled", requestedBy: "x" })).rejects.toBeInstanceOf(
      MalformedMessageError,
    );
    expect(await streamMessages(bus, "commands")).toBe(before);
  });

  it("deduplicates by msgId", async () => {
    const first = await bus.publish("backup.tenant.job.v1", job("dup-1"), { msgId: "backup:dup-1:2026-11-26" });
    const second = await bus.publish("backup.tenant.job.v1", job("dup-1"), { msgId: "backup:dup-1:2026-11-26" });
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
    expect(second.seq).toBe(first.seq);

    const seen: string[] = [];
    const c = await bus.consume({ durable: "dedup", filter: FILTER, ...fast, handler: async (m) => void seen.push(m.id) });
    await workQueueEmpty();
    await c.stop();
    expect(seen).toEqual([first.message.id]);
  });
});

describe("consume", () => {
  it("round-trips a command: parsed message in, ack, gone from the work queue", async () => {
    const got: Array<{ message: Message; attempt: number; final: boolean; subject: string }> = [];
    const c = await bus.consume({
      durable: "roundtrip",
      filter: FILTER,
      ...fast,
      handler: async (message, ctx) => void got.push({ message, attempt: ctx.attempt, final: ctx.final, subject: ctx.subject }),
    });
    const sent = await bus.publish("backup.tenant.job.v1", job("rt-1"));
    await waitFor(() => got.length === 1, "the message");
    await workQueueEmpty();
    await c.stop();
    expect(got[0]!.message).toEqual(sent.message);
    expect(got[0]).toMatchObject({ attempt: 1, final: false, subject: "cmd.backup.tenant.job.v1" });
  });

  it("redelivers a failing message with backoff until the handler succeeds", async () => {
    const attempts: Array<{ attempt: number; final: boolean }> = [];
    const c = await bus.consume({
      durable: "flaky",
      filter: FILTER,
      maxDeliver: 5,
      ...fast,
      handler: async (_m, ctx) => {
        attempts.push({ attempt: ctx.attempt, final: ctx.final });
        if (ctx.attempt <= 2) throw new HesaabError({ code: "provider_unavailable", message: "both providers down", retryable: true });
      },
    });
    await bus.publish("backup.tenant.job.v1", job("flaky-1"));
    await waitFor(() => attempts.length === 3, "three deliveries");
    await workQueueEmpty();
    await c.stop();
    expect(attempts).toEqual([
      { attempt: 1, final: false },
      { attempt: 2, final: false },
      { attempt: 3, final: false },
    ]);
    expect(await deadLetterOn("dlq.backup.tenant.job.v1")).toBeNull();
  });

  it("dead-letters a malformed message (raw bytes and issues) and keeps consuming", async () => {
    const letters: DeadLetter[] = [];
    const handled: string[] = [];
    const c = await bus.consume({
      durable: "malformed",
      filter: FILTER,
      ...fast,
      onDeadLetter: (dl) => void letters.push(dl),
      handler: async (m) => void (m.type === "backup.tenant.job.v1" && handled.push(m.data.tenantId)),
    });
    const raw = new TextEncoder().encode('{"type":"backup.tenant.job.v1","id":"x","data":{}}');
    bus.nc.publish(bus.layout.subject(FILTER), raw);
    bus.nc.publish(bus.layout.subject(FILTER), "not json at all");
    await bus.publish("backup.tenant.job.v1", job("after-malformed"));

    await waitFor(() => handled.length === 1 && letters.length === 2, "the good message and two dead letters");
    await workQueueEmpty();
    await c.stop();

    expect(handled).toEqual(["after-malformed"]);
    expect(letters.map((l) => l.reason)).toEqual(["malformed", "malformed"]);
    expect(letters[0]).toMatchObject({ subject: FILTER, deadLetterSubject: "dlq.malformed", deliveries: 1 });
    expect(letters[0]!.issues!.join(";")).toContain("at:");
    const stored = await deadLetterOn("dlq.malformed");
    expect(stored!.string()).toBe("not json at all");
    expect(stored!.header.get(DEAD_LETTER_HEADERS.reason)).toBe("malformed");
    expect(stored!.header.get(DEAD_LETTER_HEADERS.originalSubject)).toBe(FILTER);
    expect(stored!.header.get(DEAD_LETTER_HEADERS.issues)).toContain("not valid JSON");
  });

  it("dead-letters a message that exhausts its deliveries, with the last error, and removes it from the work queue", async () => {
    const letters: DeadLetter[] = [];
    const attempts: Array<{ attempt: number; final: boolean }> = [];
    const c = await bus.consume({
      durable: "exhaust",
      filter: FILTER,
      maxDeliver: 3,
      ...fast,
      onDeadLetter: (dl) => void letters.push(dl),
      handler: async (_m, ctx) => {
        attempts.push({ attempt: ctx.attempt, final: ctx.final });
        throw new Error(`upload failed on attempt ${ctx.attempt}`);
      },
    });
    const sent = await bus.publish("backup.tenant.job.v1", job("exhaust-1"));
    await waitFor(() => letters.length === 1, "the dead letter");
    await workQueueEmpty();
    await c.stop();

    expect(attempts.map((a) => a.final)).toEqual([false, false, true]);
    expect(letters[0]).toMatchObject({
      reason: "exhausted",
      seq: sent.seq,
      deliveries: 3,
      messageId: sent.message.id,
      deadLetterSubject: "dlq.backup.tenant.job.v1",
      error: { code: "Error", message: "upload failed on attempt 3" },
    });
    const stored = await deadLetterOn("dlq.backup.tenant.job.v1");
    expect(JSON.parse(stored!.string())).toEqual(sent.message);
    expect(stored!.header.get(DEAD_LETTER_HEADERS.deliveries)).toBe("3");
    expect(stored!.header.get(DEAD_LETTER_HEADERS.originalSeq)).toBe(String(sent.seq));
    expect(stored!.header.get(DEAD_LETTER_HEADERS.error)).toBe("upload failed on attempt 3");
  });

  it("dead-letters a non-retryable error at once", async () => {
    const letters: DeadLetter[] = [];
    let calls = 0;
    const c = await bus.consume({
      durable: "permanent",
      filter: FILTER,
      ...fast,
      onDeadLetter: (dl) => void letters.push(dl),
      handler: async () => {
        calls++;
        throw new HesaabError({ code: "tenant_unknown", message: "no such tenant", retryable: false });
      },
    });
    await bus.publish("backup.tenant.job.v1", job("perm-1"));
    await waitFor(() => letters.length === 1, "the dead letter");
    await workQueueEmpty();
    await c.stop();
    expect(calls).toBe(1);
    expect(letters[0]).toMatchObject({ reason: "non_retryable", deliveries: 1, error: { code: "tenant_unknown" } });
  });

  it("dead-letters from the max-deliveries advisory when a worker dies on the last attempt", async () => {
    // A worker that fetches and never answers (killed) on each delivery: nats-server 2.9 then keeps the
    // message in the work queue and only emits the advisory.
    const stream = bus.layout.stream("commands");
    await bus.jsm.consumers.add(stream, {
      durable_name: "crashy",
      filter_subject: bus.layout.subject(FILTER),
      ack_policy: AckPolicy.Explicit,
      ack_wait: 1_000_000_000,
      max_deliver: 2,
    });
    const letters: DeadLetter[] = [];
    const watch = bus.watchDeadLetters({ durable: "crashy", onDeadLetter: (dl) => void letters.push(dl) });
    const sent = await bus.publish("backup.tenant.job.v1", job("crash-1"));
    const consumer = await bus.js.consumers.get(stream, "crashy");
    let deliveries = 0;
    while (letters.length === 0) {
      try {
        const batch = await consumer.fetch({ max_messages: 1, expires: 1_000 });
        for await (const m of batch) {
          expect(m.info.streamSequence).toBe(sent.seq);
          deliveries++;
        }
      } catch (err) {
        if (!String(err).includes("heartbeats missed")) throw err; // a late heartbeat on a busy machine: pull again
      }
    }
    watch.stop();
    await workQueueEmpty();
    expect(deliveries).toBe(2);
    expect(letters[0]).toMatchObject({ reason: "exhausted", seq: sent.seq, deliveries: 2, messageId: sent.message.id });
  });

  it("keeps a long handler's message alive past the ack wait: no redelivery while it works", async () => {
    const attempts: number[] = [];
    const c = await bus.consume({
      durable: "long",
      filter: FILTER,
      concurrency: 2, // a free slot keeps a pull open: a redelivery would land in it
      ackWaitMs: 1_000,
      workingIntervalMs: 250,
      backoffMs: [50],
      fetchExpiresMs: 1_000,
      handler: async (_m, ctx) => {
        attempts.push(ctx.attempt);
        await sleep(2_500); // two and a half ack waits
      },
    });
    await bus.publish("backup.tenant.job.v1", job("long-1"));
    await waitFor(() => attempts.length === 1, "the delivery");
    await workQueueEmpty();
    await sleep(1_200); // a redelivery, had there been one, would show by now
    await c.stop();
    expect(attempts).toEqual([1]);
  });

  it("never has more than `concurrency` messages in flight", async () => {
    let inFlight = 0;
    let peak = 0;
    const done = new Set<string>();
    const c = await bus.consume({
      durable: "bounded",
      filter: FILTER,
      concurrency: 3,
      ...fast,
      handler: async (m) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await sleep(30);
        inFlight--;
        done.add(m.id);
      },
    });
    for (let i = 0; i < 15; i++) await bus.publish("backup.tenant.job.v1", job(`bounded-${i}`));
    await waitFor(() => done.size === 15, "15 messages");
    expect(c.inFlight()).toBe(0);
    await c.stop();
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThan(1);
  });

  it("splits the work between two processes sharing a durable, each message handled once", async () => {
    const other = await testBus({ prefix: bus.layout.prefix, name: "bus-test-2" });
    const byA: string[] = [];
    const byB: string[] = [];
    const handler = (into: string[]) => async (m: Message) => {
      into.push(m.id);
      await sleep(10);
    };
    const a = await bus.consume({ durable: "shared", filter: FILTER, ...fast, handler: handler(byA) });
    const b = await other.consume({ durable: "shared", filter: FILTER, ...fast, handler: handler(byB) });
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await bus.publish("backup.tenant.job.v1", job(`shared-${i}`))).message.id);
    await waitFor(() => byA.length + byB.length >= 20, "20 messages");
    await workQueueEmpty();
    await Promise.all([a.stop(), b.stop()]);
    await other.close();
    const all = [...byA, ...byB];
    expect(all.sort()).toEqual([...ids].sort());
    expect(byA.length).toBeGreaterThan(0);
    expect(byB.length).toBeGreaterThan(0);
  });

  it("makes one consumer per filter for a service with several filters (nats 2.9 refuses multi-filter consumers)", async () => {
    const types: string[] = [];
    const c = await bus.consume({ durable: "backup-svc", filter: COMMAND_FILTERS.backupSvc, ...fast, handler: async (m) => void types.push(m.type) });
    expect(c.durables).toEqual(["backup-svc_cmd_backup_all", "backup-svc_cmd_export_all", "backup-svc_cmd_keys_all"]);
    await bus.publish("export.customer.requested.v1", { exportId: "exp_01jdyq2v3w4x5y6z7a8b9c0d1e", tenantId: "t1", requestedBy: "user:1" });
    await bus.publish("backup.tenant.job.v1", job("multi-1"));
    await waitFor(() => types.length === 2, "both messages");
    await c.stop();
    expect(types.sort()).toEqual(["backup.tenant.job.v1", "export.customer.requested.v1"]);
  });

  it("a busy filter gets every slot but one per idle filter: idle pulls do not sit on the busy one's slots", async () => {
    // backup-svc's three filters at concurrency 10: the night's jobs were held to a third of it
    // while the export and keys pulls waited, each on its share, for messages that did not come.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let peak = 0;
    const c = await bus.consume({
      durable: "backup-svc",
      filter: COMMAND_FILTERS.backupSvc,
      concurrency: 10,
      ...fast,
      handler: async () => {
        peak = Math.max(peak, c.inFlight());
        await gate;
      },
    });
    for (let i = 0; i < 12; i++) await bus.publish("backup.tenant.job.v1", job(`busy-${i}`));
    await waitFor(() => c.inFlight() === 8, "10 slots but one for each idle filter in flight");
    await sleep(300); // and no more than that
    expect(c.inFlight()).toBe(8);
    // the idle filters still take their work (each on the slot it kept)
    await bus.publish("export.customer.requested.v1", { exportId: "exp_01jdyq2v3w4x5y6z7a8b9c0d1e", tenantId: "t1", requestedBy: "user:1" });
    await waitFor(() => c.inFlight() === 9, "the export beside the jobs");
    release();
    await workQueueEmpty();
    await c.stop();
    expect(peak).toBeLessThanOrEqual(10);
  });

  it("aborting hands in-flight messages back at once and a later consumer finishes them", async () => {
    let started = 0;
    const finished: string[] = [];
    const first = await bus.consume({
      durable: "handback",
      filter: FILTER,
      ...fast,
      handler: (_m, ctx) =>
        new Promise<void>((_resolve, reject) => {
          started++;
          ctx.signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
        }),
    });
    await bus.publish("backup.tenant.job.v1", job("handback-1"));
    await waitFor(() => started === 1, "the handler to start");
    await first.abort();
    const second = await bus.consume({ durable: "handback", filter: FILTER, ...fast, handler: async (m) => void finished.push(m.id) });
    await waitFor(() => finished.length === 1, "the second consumer");
    await second.stop();
  });
});

describe("consumeEvents", () => {
  it("delivers every event to every durable", async () => {
    const a: string[] = [];
    const b: string[] = [];
    const ca = await bus.consumeEvents({ durable: "listener-a", filter: "evt.>", ...fast, handler: async (m) => void a.push(m.type) });
    const cb = await bus.consumeEvents({ durable: "listener-b", filter: "evt.alert.>", ...fast, handler: async (m) => void b.push(m.type) });
    await bus.publish("alert.raised.v1", { alertId: "alr_01jdyq2v3w4x5y6z7a8b9c0d1e", severity: "warning", code: "dlq", message: "a job was dead-lettered" });
    await bus.publish("backup.tenant.started.v1", { backupId: "bkp_01jdyq2v3w4x5y6z7a8b9c0d1e", tenantId: "t1", purpose: "scheduled", attempt: 1 });
    await waitFor(() => a.length === 2 && b.length === 1, "events on both durables");
    await Promise.all([ca.stop(), cb.stop()]);
    expect(a.sort()).toEqual(["alert.raised.v1", "backup.tenant.started.v1"]);
    expect(b).toEqual(["alert.raised.v1"]);
    // Events stay in their stream for other listeners.
    expect(await streamMessages(bus, "events")).toBe(2);
  });
});
