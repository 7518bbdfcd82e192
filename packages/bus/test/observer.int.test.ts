// The bus's observer (what a service's metrics listen to) on a real JetStream: told of each stored
// publish (not of a duplicate), of each delivery with its attempt, and of each dead letter.
import { describe, expect, it } from "vitest";
import { HesaabError } from "@hesaab/config";
import { subjectOf } from "@hesaab/contracts";
import { waitFor } from "@hesaab/testkit";
import { connectBus, silentLogger, type BusObserver } from "../src";
import { NATS_URL, dropStreams, job, testPrefix } from "./helpers";

describe("bus observer", () => {
  it("sees publishes once, redeliveries by attempt and dead letters; a throwing hook does not stop the bus", async () => {
    const prefix = testPrefix();
    const published: string[] = [];
    const deliveries: number[] = [];
    const dead: string[] = [];
    const observer: BusObserver = {
      published: (m) => {
        published.push(m.type);
        throw new Error("a broken metrics sink");
      },
      delivered: ({ attempt }) => deliveries.push(attempt),
      deadLettered: ({ durable, reason }) => dead.push(`${durable}:${reason}`),
    };
    const bus = await connectBus({ url: NATS_URL, name: "observer-test", prefix, log: silentLogger, observer });
    try {
      await bus.ensureStreams();
      await bus.publish("backup.tenant.job.v1", job("t-observed"), { msgId: "once" });
      await bus.publish("backup.tenant.job.v1", job("t-observed"), { msgId: "once" }); // a duplicate: not stored, not told
      expect(published).toEqual(["backup.tenant.job.v1"]);
      const consumption = await bus.consume({
        durable: "observer",
        filter: subjectOf("backup.tenant.job.v1"),
        maxDeliver: 2,
        backoffMs: [50],
        ackWaitMs: 5_000,
        fetchExpiresMs: 1_000,
        handler: async () => {
          throw new HesaabError({ code: "provider_unavailable", message: "fails every time", retryable: true });
        },
      });
      await waitFor(() => dead.length > 0, "the job dead-lettered");
      await consumption.stop();
      expect(deliveries).toEqual([1, 2]);
      expect(dead).toEqual(["observer:exhausted"]);
    } finally {
      await bus.close();
      await dropStreams(prefix);
    }
  });
});
